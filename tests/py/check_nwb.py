#!/usr/bin/env python3
"""lsrmon's NWB checker: is each FILE a valid NWB 2.x file that pynwb can read?

usage: check_nwb.py FILE... [--strict] [--summary OUT.json] [--quiet]

Per file, all of these must pass (the project's definition of "valid"):
  1. pynwb.validate reports nothing;
  2. NWBHDF5IO(path).read() works and every series and table reads back
     (TimeSeries data read in full, DynamicTables converted to pandas);
  3. nwbinspector reports nothing CRITICAL (and no check crashed: importance ERROR).
     With --strict, BEST_PRACTICE_VIOLATION messages fail the file too.

Prints "PASS: FILE" or "FAIL: FILE" per file and a closing "N passed, M failed" line;
exits 1 if any file failed. --summary writes what pynwb saw (per series: shape, dtype,
rate, the first rows in the series' unit after conversion; per table: rows and columns;
markers) as JSON, so tests can compare pynwb's reading with their own.
Needs pynwb, nwbinspector, h5py, numpy (`./dev test` installs them into target/venv).
"""
import argparse
import json
import math
import sys
import traceback
import warnings


def validate(path):
    from pynwb import validate as pynwb_validate
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            errors = pynwb_validate(path=path)          # pynwb >= 3
        except TypeError:                                # pynwb 2.x
            errors = pynwb_validate(paths=[path])
            if isinstance(errors, tuple):
                errors, status = errors
                if status and not errors:
                    errors = [f"validate returned status {status}"]
    return [str(e) for e in errors]


def num(x):
    x = float(x)
    return None if math.isnan(x) else x


def clean(x):
    """NaN/inf -> None, recursively (JSON has no NaN)."""
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, list):
        return [clean(v) for v in x]
    if isinstance(x, dict):
        return {k: clean(v) for k, v in x.items()}
    return x


def read_all(path):
    """Read every series and table with pynwb; return a JSON-able summary."""
    import numpy as np
    from hdmf.common import DynamicTable
    from pynwb import NWBHDF5IO, TimeSeries
    out = {"series": {}, "tables": {}, "markers": []}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with NWBHDF5IO(path, "r") as io:
            nwb = io.read()
            out["identifier"] = nwb.identifier
            out["session_start_time"] = nwb.session_start_time.isoformat()
            out["data_collection"] = nwb.data_collection

            def touch(name, obj):
                if isinstance(obj, TimeSeries):
                    data = np.asarray(obj.data[:])
                    entry = {"type": type(obj).__name__, "shape": list(data.shape),
                             "dtype": str(data.dtype), "unit": obj.unit}
                    if data.dtype.kind in "iuf":
                        vals = obj.get_data_in_units()
                        entry["first_rows"] = np.asarray(vals[:5]).tolist()
                        entry["rate"] = obj.rate
                        entry["starting_time"] = obj.starting_time
                        if obj.timestamps is not None:
                            entry["n_timestamps"] = len(obj.timestamps)
                    else:
                        ts = np.asarray(obj.timestamps[:])
                        for t, d in zip(ts, data):
                            out["markers"].append([float(t), d.decode() if isinstance(d, bytes) else str(d)])
                    out["series"][name] = entry
                elif isinstance(obj, DynamicTable):
                    df = obj.to_dataframe()
                    cols = {}
                    for c in df.columns:
                        v = df[c].tolist()
                        if v and isinstance(v[0], (float, int, np.floating, np.integer)):
                            v = [num(x) for x in v]
                        else:
                            v = [x.decode() if isinstance(x, bytes) else str(x) for x in v]
                        cols[c] = v
                    out["tables"][name] = {"type": type(obj).__name__, "rows": len(df), "columns": cols}
                else:
                    out["tables"][name] = {"type": type(obj).__name__}

            for k, v in nwb.acquisition.items():
                touch(f"acquisition/{k}", v)
            for k, v in (nwb.intervals or {}).items():
                touch(f"intervals/{k}", v)
            for k, v in (getattr(nwb, "events", None) or {}).items():
                touch(f"events/{k}", v)
            for mk, m in nwb.processing.items():
                for k, v in m.data_interfaces.items():
                    touch(f"processing/{mk}/{k}", v)
            if nwb.electrodes is not None:
                touch("general/extracellular_ephys/electrodes", nwb.electrodes)
    return out


def inspect(path, strict):
    from nwbinspector import Importance, inspect_nwbfile
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        msgs = list(inspect_nwbfile(nwbfile_path=path, skip_validate=True))
    blocking = {Importance.CRITICAL, Importance.ERROR}
    if strict:
        blocking.add(Importance.BEST_PRACTICE_VIOLATION)
    return msgs, [m for m in msgs if m.importance in blocking]


def check(path, strict, quiet, summaries):
    ok = True
    print(f"== {path}")
    try:
        errors = validate(path)
        if errors:
            ok = False
            print(f"   [FAIL] pynwb validate: {len(errors)} error(s)")
            for e in errors:
                print(f"      - {e}")
        else:
            print("   [ok]   pynwb validate")
    except Exception as e:  # noqa: BLE001
        ok = False
        print(f"   [FAIL] pynwb validate raised {type(e).__name__}: {e}")
    try:
        summary = read_all(path)
        summaries[path] = summary
        print(f"   [ok]   pynwb read: {len(summary['series'])} series, {len(summary['tables'])} tables")
        if not quiet:
            for k, v in summary["series"].items():
                print(f"      {k}: {v['type']} {v['shape']} {v['dtype']}")
            for k, v in summary["tables"].items():
                print(f"      {k}: {v['type']} rows={v.get('rows')}")
    except Exception as e:  # noqa: BLE001
        ok = False
        print(f"   [FAIL] pynwb read raised {type(e).__name__}: {e}")
        if not quiet:
            traceback.print_exc(file=sys.stdout)
    try:
        msgs, bad = inspect(path, strict)
        for m in msgs:
            print(f"      inspector {m.importance.name}: {m.check_function_name} @{m.location}: {m.message}")
        if bad:
            ok = False
            print(f"   [FAIL] nwbinspector: {len(bad)} blocking message(s)")
        else:
            print(f"   [ok]   nwbinspector: {len(msgs)} non-blocking message(s)")
    except Exception as e:  # noqa: BLE001
        ok = False
        print(f"   [FAIL] nwbinspector raised {type(e).__name__}: {e}")
    print(f"{'PASS' if ok else 'FAIL'}: {path}")
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("paths", nargs="+")
    ap.add_argument("--strict", action="store_true", help="also fail on BEST_PRACTICE_VIOLATION")
    ap.add_argument("--summary", metavar="OUT.json", help="write what pynwb read, as JSON")
    ap.add_argument("--quiet", action="store_true")
    a = ap.parse_args()
    summaries = {}
    results = [check(p, a.strict, a.quiet, summaries) for p in a.paths]
    if a.summary:
        with open(a.summary, "w") as f:
            json.dump(clean(summaries), f, allow_nan=False, default=str)
    n_ok = sum(results)
    print(f"{n_ok} passed, {len(results) - n_ok} failed")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
