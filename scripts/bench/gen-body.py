#!/usr/bin/env python3
"""Writes a synthetic Logstash /_node/stats body of about SIZE bytes with
PIPELINES pipelines, built from the real 8.15 capture in pkg/logstash/testdata.

The last pipeline is "main" and holds the input "udp-5514", so a check that
scans every pipeline has to read the whole body. Also writes the narrower
bodies a real node would serve (/_node/stats/pipelines and
/_node/stats/pipelines/<id>) into a directory tree that mirrors the URL paths.

usage: gen-body.py FIXTURE OUTDIR [--pipelines 100] [--size 5242880 | --size 0]
"""
import argparse
import copy
import json
import os


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("fixture")
    ap.add_argument("outdir")
    ap.add_argument("--pipelines", type=int, default=100)
    ap.add_argument("--size", type=int, default=5 * 1024 * 1024)
    args = ap.parse_args()

    with open(args.fixture) as f:
        base = json.load(f)
    template = base["pipelines"]["main"]
    filt = template["plugins"]["filters"][0]

    def pipeline(i, name, nfilters):
        p = copy.deepcopy(template)
        port = 5000 + i
        p["plugins"]["inputs"] = [
            {"id": "tcp-%d" % port, "name": "tcp",
             "events": {"out": 1000 + i, "queue_push_duration_in_millis": 7},
             "flow": {"throughput": {"current": 1.5, "lifetime": 2.25}}},
            {"id": "beats-%d" % (port + 1), "name": "beats",
             "events": {"out": 2000 + i, "queue_push_duration_in_millis": 9},
             "flow": {"throughput": {"current": "Infinity", "lifetime": 0.5}},
             "current_connections": 3, "peak_connections": 4},
        ]
        if name == "main":
            p["plugins"]["inputs"].append(
                {"id": "udp-5514", "name": "udp",
                 "events": {"out": 424242, "queue_push_duration_in_millis": 11},
                 "flow": {"throughput": {"current": 12.5, "lifetime": 10.0}}})
        if nfilters is None:  # keep the capture's own filters
            return p
        fs = []
        for j in range(nfilters):
            x = copy.deepcopy(filt)
            x["id"] = "filter-%d-%d" % (i, j)
            fs.append(x)
        p["plugins"]["filters"] = fs
        return p

    names = ["pipeline-%03d" % i for i in range(args.pipelines - 1)] + ["main"]

    def build(nfilters):
        body = copy.deepcopy(base)
        body["pipelines"] = {n: pipeline(i, n, nfilters) for i, n in enumerate(names)}
        return body

    # Grow the filter count until the body reaches the requested size
    # (--size 0: the capture's filters as they are).
    nfilters = None
    if args.size > 0:
        base_len = len(json.dumps(build(0), indent=2))
        one = len(json.dumps(build(1), indent=2)) - base_len
        nfilters = max(0, (args.size - base_len) // max(one, 1))
        while len(json.dumps(build(nfilters), indent=2)) < args.size:
            nfilters += 1
    body = build(nfilters)

    def write(rel, obj):
        path = os.path.join(args.outdir, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            json.dump(obj, f, indent=2)
        return os.path.getsize(path)

    meta = {k: body[k] for k in ("host", "version", "http_address", "id", "name",
                                 "ephemeral_id", "status", "snapshot", "pipeline")}
    size = write("_node/stats/index.json", body)
    write("_node/stats/pipelines/index.json", dict(meta, pipelines=body["pipelines"]))
    for n in names:
        write("_node/stats/pipelines/%s/index.json" % n,
              dict(meta, pipelines={n: body["pipelines"][n]}))
    print("%s: %d bytes, %d pipelines" % (args.outdir, size, len(names)))


if __name__ == "__main__":
    main()
