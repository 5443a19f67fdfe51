#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# A client on the original mBus's own MBusClient.py (PYTHONPATH points at it), for
# compat-original.sh: calls DESTINATION.COMMAND with PAYLOAD over compat+tcp://, prints the
# result's payload, publishes EVENT, and exits with the result's status. (Its own
# mbus-command.py prints the result but never exits: it polls a copy of its options.)
import json
import sys

import MBusClient

port, destination, command, payload, event = sys.argv[1:6]
done = {"status": None}


def on_result(client, context, message, status):
    done["status"] = message.getResponseStatus()
    print(json.dumps(message.getResponsePayload()), flush=True)
    client.publish(event, {"from": "python"})


def on_connect(client, context, status):
    if status != MBusClient.MBusClientConnectStatus.Success:
        sys.exit("connect failed: {}".format(status))
    client.command(destination, command, json.loads(payload), on_result)


options = MBusClient.MBusClientOptions()
options.identifier = "org.example.pyclient"
options.serverProtocol = "tcp"
options.serverAddress = "127.0.0.1"
options.serverPort = int(port)
options.onConnect = on_connect
client = MBusClient.MBusClient(options)
client.connect()
while done["status"] is None or client.hasPending():
    client.run(100)
sys.exit(0 if done["status"] == 0 else 1)
