#!/usr/bin/env python3
"""One build serves every command: after `cargo run -p cairn-tools -- demo`
(the README's first command), `cargo run -p X` for every other binary
package must compile nothing but X's own code. Cargo's unit graph of each
package (`--unit-graph`, read with RUSTC_BOOTSTRAP=1 as the fuzz smoke
does) must be a subset of the demo's: the same units with the same
features and profile. A difference is a dependency that X's graph alone
resolves otherwise; pin it in unify/Cargo.toml.

Prints `N passed, M failed` and exits 1 on any difference.
"""

import json
import os
import subprocess
import sys

BASE = "cairn-tools"
PACKAGES = ["cairn-ledger", "cairn-gate-server", "cairn-verify", "cairn-witness", "xtask"]


def graph(pkg):
    env = dict(os.environ, RUSTC_BOOTSTRAP="1")
    out = subprocess.run(
        ["cargo", "build", "--locked", "-p", pkg, "--unit-graph", "-Z", "unstable-options"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    units = {}
    for u in json.loads(out)["units"]:
        key = (u["pkg_id"], u["target"]["name"], u["mode"], u["platform"])
        units[key] = (sorted(u["features"]), json.dumps(u["profile"], sort_keys=True))
    return units


def package_ids():
    meta = subprocess.run(
        ["cargo", "metadata", "--locked", "--no-deps", "--format-version", "1"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {p["name"]: p["id"] for p in json.loads(meta)["packages"]}


def main():
    ids = package_ids()
    base = graph(BASE)
    passed, failed = 0, 0
    for pkg in PACKAGES:
        diffs = []
        for key, val in graph(pkg).items():
            name = key[0].rsplit("#", 1)[-1]
            if key[0] == ids[pkg]:
                continue  # the package's own code
            if key not in base:
                diffs.append(f"{name} {key[1]} ({key[2]}): not in the {BASE} build")
            elif base[key] != val:
                what = "features" if base[key][0] != val[0] else "profile"
                diffs.append(f"{name} {key[1]} ({key[2]}): {what} {val[0]} vs {base[key][0]} in {BASE}")
        if diffs:
            failed += 1
            print(f"FAIL {pkg}: `cargo build -p {pkg}` after the demo would compile:")
            for d in diffs:
                print("  " + d)
        else:
            passed += 1
            print(f"ok   {pkg}: reuses the demo's build")
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
