"""Writes EDF+/BDF+ files with pyedflib, edfio and MNE (and one EDF+D with a gap), for
lsrmon's reader to open.

Usage: write_edf.py OUTDIR

For each file NAME it writes OUTDIR/NAME and OUTDIR/NAME.json, what a reader must find:
  kind ("EDF+C", "BDF+C", "EDF+D"), subsecond (s from the header's start time to the first
  sample), signals [{label, rate, dim, step, samples}] (samples as given to the writer,
  physical units), annotations [[onset_s_from_first_sample, duration_s or null, text]],
  gaps [[first_record_after_the_gap, seconds_missing]], records, record_s.
An annotation may have a fourth element: its time on the stream of samples (gaps removed),
when that differs from its onset.
A reader must return each sample within one quantisation step (`step`).
"""

import datetime
import json
import os
import struct
import sys

import numpy as np

OUT = sys.argv[1]
os.makedirs(OUT, exist_ok=True)
RNG = np.random.default_rng(15)


def emg(rate, seconds, amp_uv, freq):
    t = np.arange(int(round(rate * seconds))) / rate
    return amp_uv * np.sin(2 * np.pi * freq * t) + RNG.normal(0, amp_uv / 20, t.size)


def save(name, expected):
    with open(os.path.join(OUT, name + ".json"), "w") as f:
        json.dump(expected, f)


def sig(label, rate, dim, pmin, pmax, dmin, dmax, samples):
    return {
        "label": label,
        "rate": rate,
        "dim": dim,
        "step": (pmax - pmin) / (dmax - dmin),
        "samples": [float(v) for v in samples],
    }


STIMULI = [
    [0.5, 0.0002, "stimulus zygomatic 12 mA"],
    [1.5, 0.0002, "stimulus marginal_mandibular 12 mA"],
    [2.5, 0.0002, "stimulus zygomatic 14 mA"],
    [3.5, 0.0002, "stimulus marginal_mandibular 14 mA"],
]
MARKERS = [[2.25, None, "dural opening"], [4.75, None, "decompression"]]


def pyedflib_file(name, bdf, record_s, rate, start, plus=True, annotation_signals=1):
    """pyedflib (EDFlib): two EMG channels at `rate`, a slow channel at 50 Hz. EDF+/BDF+
    files get the annotations (with several annotation signals, EDFlib puts the second
    annotation of a record in the second signal, and so on); plain EDF/BDF none."""
    import pyedflib

    seconds = 6
    dmin, dmax = (-8388608, 8388607) if bdf else (-32768, 32767)
    data = [
        ("EMG mentalis", rate, "uV", -2000.0, 2000.0, emg(rate, seconds, 300, 37)),
        ("EMG oculi", rate, "uV", -2000.0, 2000.0, emg(rate, seconds, 150, 53)),
        ("Resp", 50, "mV", -10.0, 10.0, emg(50, seconds, 4, 0.3)),
    ]
    path = os.path.join(OUT, name)
    kinds = {
        (False, False): pyedflib.FILETYPE_EDF,
        (False, True): pyedflib.FILETYPE_EDFPLUS,
        (True, False): pyedflib.FILETYPE_BDF,
        (True, True): pyedflib.FILETYPE_BDFPLUS,
    }
    w = pyedflib.EdfWriter(path, len(data), file_type=kinds[(bdf, plus)])
    w.setSignalHeaders(
        [
            {
                "label": label,
                "dimension": dim,
                "sample_frequency": r,
                "physical_min": pmin,
                "physical_max": pmax,
                "digital_min": dmin,
                "digital_max": dmax,
                "transducer": "AgAgCl electrode",
                "prefilter": "HP:10Hz LP:3000Hz",
            }
            for label, r, dim, pmin, pmax, _ in data
        ]
    )
    if record_s != 1:
        w.setDatarecordDuration(record_s)
    w.setStartdatetime(start)
    w.setPatientCode("case-0015")
    annotations = STIMULI + MARKERS if plus else []
    if annotation_signals > 1:
        w.set_number_of_annotation_signals(annotation_signals)
        # Three annotations in one record: one in each annotation signal.
        annotations = annotations + [[5.1, None, "irrigation"], [5.2, None, "pad placed"]]
    w.writeSamples([d[5] for d in data])
    for onset, duration, text in annotations:
        w.writeAnnotation(onset, -1 if duration is None else duration, text)
    w.close()
    save(
        name,
        {
            "kind": ("BDF" if bdf else "EDF") + ("+C" if plus else ""),
            "subsecond": start.microsecond / 1e6,
            "signals": [sig(l, r, dim, a, b, dmin, dmax, s) for l, r, dim, a, b, s in data],
            "annotations": sorted(annotations, key=lambda a: a[0]),
            "gaps": [],
            "records": int(seconds / record_s),
            "record_s": record_s,
        },
    )


def edfio_file(name, bdf):
    """edfio: EMG at 1000 Hz, a temperature at 1 Hz, 0.25 s sub-second start."""
    import edfio

    seconds = 8
    Signal = edfio.BdfSignal if bdf else edfio.EdfSignal
    dmin, dmax = (-8388608, 8388607) if bdf else (-32768, 32767)
    data = [
        ("EMG mentalis", 1000, "uV", -1000.0, 1000.0, emg(1000, seconds, 200, 41)),
        ("EMG nasalis", 1000, "uV", -1000.0, 1000.0, emg(1000, seconds, 100, 29)),
        ("Temp", 1, "degC", 30.0, 40.0, 36.5 + emg(1, seconds, 0.2, 0.05)),
    ]
    signals = [
        Signal(
            s,
            r,
            label=label,
            physical_dimension=dim,
            physical_range=(pmin, pmax),
            digital_range=(dmin, dmax),
        )
        for label, r, dim, pmin, pmax, s in data
    ]
    cls = edfio.Bdf if bdf else edfio.Edf
    f = cls(
        signals,
        patient=edfio.Patient(code="case-0016"),
        starttime=datetime.time(9, 15, 30, 250000),
        annotations=[edfio.EdfAnnotation(o, d, t) for o, d, t in STIMULI + MARKERS],
    )
    f.write(os.path.join(OUT, name))
    save(
        name,
        {
            "kind": "BDF+C" if bdf else "EDF+C",
            "subsecond": 0.25,
            "signals": [sig(l, r, dim, a, b, dmin, dmax, s) for l, r, dim, a, b, s in data],
            "annotations": STIMULI + MARKERS,
            "gaps": [],
            "records": seconds,
            "record_s": 1.0,
        },
    )


def mne_file(name):
    """MNE's export (EDF through edfio): three EMG channels at 2000 Hz, annotations."""
    import mne

    mne.set_log_level("ERROR")
    rate, seconds = 2000, 5
    volts = np.array([emg(rate, seconds, a, f) * 1e-6 for a, f in [(400, 31), (250, 47), (100, 61)]])
    info = mne.create_info(["mentalis", "oculi", "oris"], rate, ch_types="emg")
    raw = mne.io.RawArray(volts, info)
    meas = datetime.datetime(2026, 3, 2, 8, 30, 0, tzinfo=datetime.timezone.utc)
    raw.set_meas_date(meas)
    ann = STIMULI + MARKERS
    raw.set_annotations(
        mne.Annotations(
            [a[0] for a in ann],
            [0.0 if a[1] is None else a[1] for a in ann],
            [a[2] for a in ann],
            orig_time=meas,
        )
    )
    path = os.path.join(OUT, name)
    mne.export.export_raw(path, raw, fmt="edf", overwrite=True)
    # MNE chooses the physical range from the data; the step is what it wrote.
    import edfio

    written = edfio.read_edf(path)
    steps = {
        s.label: (s.physical_max - s.physical_min) / (s.digital_max - s.digital_min)
        for s in written.signals
    }
    labels = [s.label for s in written.signals]
    save(
        name,
        {
            "kind": "EDF+C",
            "subsecond": 0.0,
            "signals": [
                {
                    "label": l,
                    "rate": rate,
                    "dim": "uV",
                    "step": steps[l],
                    "samples": [float(v) for v in volts[i] * 1e6],
                }
                for i, l in enumerate(labels)
            ],
            # MNE writes a zero duration for annotations without one.
            "annotations": [[o, 0.0 if d is None else d, t] for o, d, t in ann],
            "gaps": [],
            "records": int(written.num_data_records),
            "record_s": float(written.data_record_duration),
        },
    )


def field(text, width):
    b = text.encode("ascii")
    assert len(b) <= width, text
    return b + b" " * (width - len(b))


def edfplus_d_file(name):
    """EDF+D by hand (none of the three libraries writes one): 1-s records at 1000 Hz, two
    records, 2.5 s missing, then three records; a marker inside the gap belongs to the next
    record. edfio reads it back below as a check of the bytes (EDFlib refuses EDF+D)."""
    import edfio

    rate, record_s = 1000, 1
    starts = [0.0, 1.0, 4.5, 5.5, 6.5]
    pmin, pmax, dmin, dmax = -3276.8, 3276.7, -32768, 32767
    step = (pmax - pmin) / (dmax - dmin)
    chans = [("EMG mentalis", 300, 37), ("EMG oculi", 150, 53)]
    x = [emg(rate, len(starts), a, f) for _, a, f in chans]
    digital = [np.clip(np.round((s - pmin) / step + dmin), dmin, dmax).astype("<i2") for s in x]
    annots = {
        0: [(0.5, 0.0002, "stimulus zygomatic 10 mA")],
        1: [(1.5, 0.0002, "stimulus zygomatic 10 mA"), (3.0, None, "inside the gap")],
        2: [(4.75, None, "after the gap"), (5.0, 0.0002, "stimulus zygomatic 10 mA")],
        4: [(7.0, 0.0002, "stimulus zygomatic 10 mA")],
    }
    tal_bytes = 120
    ns = len(chans) + 1
    h = b"0       " + field("case-0017 X X X", 80) + field("Startdate 02-MAR-2026 X X X", 80)
    h += field("02.03.26", 8) + field("10.00.00", 8) + field(str(256 * (ns + 1)), 8)
    h += field("EDF+D", 44) + field(str(len(starts)), 8) + field(str(record_s), 8) + field(str(ns), 4)
    labels = [c[0] for c in chans] + ["EDF Annotations"]
    cols = [
        (labels, 16),
        (["AgAgCl electrode"] * 2 + [""], 80),
        (["uV", "uV", ""], 8),
        ([str(pmin)] * 2 + ["-1"], 8),
        ([str(pmax)] * 2 + ["1"], 8),
        ([str(dmin)] * 3, 8),
        ([str(dmax)] * 3, 8),
        ([""] * 3, 80),
        ([str(rate)] * 2 + [str(tal_bytes // 2)], 8),
        ([""] * 3, 32),
    ]
    for values, width in cols:
        for v in values:
            h += field(v, width)
    assert len(h) == 256 * (ns + 1)
    body = b""
    for r, t0 in enumerate(starts):
        for d in digital:
            body += d[r * rate : (r + 1) * rate].tobytes()
        tal = f"+{t0:g}\x14\x14\x00".encode()
        for onset, dur, text in annots.get(r, []):
            d = "" if dur is None else f"\x15{dur:g}"
            tal += f"+{onset:g}{d}\x14{text}\x14\x00".encode()
        assert len(tal) <= tal_bytes
        body += tal + b"\x00" * (tal_bytes - len(tal))
    path = os.path.join(OUT, name)
    with open(path, "wb") as f:
        f.write(h + body)
    back = edfio.read_edf(path)
    assert not back.is_continuous
    assert len(back.annotations) == sum(len(v) for v in annots.values()), back.annotations
    # On the stream of samples (gaps removed), a marker inside the gap goes to the first
    # sample after it.
    def stream_s(t):
        r = max(i for i, s in enumerate(starts) if s <= t)
        if t >= starts[r] + record_s and r + 1 < len(starts):
            return float(r + 1)
        return r * record_s + (t - starts[r])

    anns = [[o, d, t, stream_s(o)] for v in annots.values() for o, d, t in v]
    save(
        name,
        {
            "kind": "EDF+D",
            "subsecond": 0.0,
            "signals": [
                {
                    "label": c[0],
                    "rate": rate,
                    "dim": "uV",
                    "step": step,
                    "samples": [float(v) for v in s],
                }
                for c, s in zip(chans, x)
            ],
            # Onsets from the first sample, in file time (the gap counts).
            "annotations": anns,
            "gaps": [[2, 2.5]],
            "records": len(starts),
            "record_s": record_s,
        },
    )


# Whole seconds: pyedflib 0.1.42 passes microseconds x 100 where EDFlib wants units of
# 100 ns, so a sub-second start is written ten times too large (or dropped from 0.1 s on).
# edfio's files below carry the sub-second start.
start = datetime.datetime(2026, 3, 2, 8, 30, 0)
pyedflib_file("pyedflib_plus.edf", False, 1, 2000, start)
pyedflib_file("pyedflib_plus.bdf", True, 0.5, 2048, start)
pyedflib_file("pyedflib_plain.edf", False, 1, 2000, start, plus=False)
pyedflib_file("pyedflib_plain.bdf", True, 1, 2048, start, plus=False)
pyedflib_file("pyedflib_3annot.edf", False, 1, 2000, start, annotation_signals=3)
edfio_file("edfio_plus.edf", False)
edfio_file("edfio_plus.bdf", True)
mne_file("mne_export.edf")
edfplus_d_file("gap_edfplus_d.edf")
print("ok")
