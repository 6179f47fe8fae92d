#!/usr/bin/env python3
# A faithful Python 3 port of the seed's inputstatus.py (Python 2), the
# MISC_CHECK that hala check replaces. Used only by scripts/bench-check as
# the baseline; the logic is unchanged: GET http://IP:9600/_node/stats, look
# for the input id in pipeline "main", exit 0 when found, 1 otherwise.
import sys
import urllib.request
import json

if len(sys.argv) != 3:
    print("This script needs 3 arguments!: inputstatus.py IP input-id")
    exit(1)

res = urllib.request.urlopen('http://' + sys.argv[1] + ':9600/_node/stats').read()
inputs = json.loads(res)['pipelines']['main']['plugins']['inputs']

match = False

for input in inputs:
    if sys.argv[2] == input['id']:
        match = True

if match == True:
    exit(0)
else:
    exit(1)
