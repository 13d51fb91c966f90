"""Go's reference-time layouts ("2006-01-02T15:04:05Z07:00") for consul-template's `timestamp`."""

from __future__ import annotations

import datetime as dt

# Longest first, so "January" wins over "Jan" and "2006" over "2".
_TOKENS = [
    "January", "Monday", "Z07:00:00", "-07:00:00", "Z07:00", "-07:00", "Z0700", "-0700", "Z07", "-07",
    "2006", "Jan", "Mon", "MST", "002", "__2", "_2", "01", "02", "03", "04", "05", "06", "15",
    "PM", "pm", "1", "2", "3", "4", "5",
]


def _zone(t: dt.datetime, token: str) -> str:
    off = t.utcoffset() or dt.timedelta(0)
    if token.startswith("Z") and off == dt.timedelta(0):
        return "Z"
    secs = int(off.total_seconds())
    sign = "-" if secs < 0 else "+"
    secs = abs(secs)
    hh, mm, ss = secs // 3600, secs % 3600 // 60, secs % 60
    body = token.lstrip("Z-")
    if body == "07":
        return f"{sign}{hh:02d}"
    if body == "0700":
        return f"{sign}{hh:02d}{mm:02d}"
    if body == "07:00":
        return f"{sign}{hh:02d}:{mm:02d}"
    return f"{sign}{hh:02d}:{mm:02d}:{ss:02d}"


def _render(t: dt.datetime, token: str) -> str:
    hour12 = t.hour % 12 or 12
    simple = {
        "January": t.strftime("%B"), "Monday": t.strftime("%A"), "Jan": t.strftime("%b"),
        "Mon": t.strftime("%a"), "MST": t.tzname() or "UTC", "2006": f"{t.year:04d}", "06": f"{t.year % 100:02d}",
        "01": f"{t.month:02d}", "1": str(t.month), "02": f"{t.day:02d}", "2": str(t.day), "_2": f"{t.day:>2d}",
        "002": f"{t.timetuple().tm_yday:03d}", "__2": f"{t.timetuple().tm_yday:>3d}",
        "15": f"{t.hour:02d}", "03": f"{hour12:02d}", "3": str(hour12), "04": f"{t.minute:02d}",
        "4": str(t.minute), "05": f"{t.second:02d}", "5": str(t.second),
        "PM": "PM" if t.hour >= 12 else "AM", "pm": "pm" if t.hour >= 12 else "am",
    }
    if token in simple:
        return simple[token]
    return _zone(t, token)


def go_format(t: dt.datetime, layout: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(layout):
        # Fractional seconds: ".000" (fixed) or ".999" (trailing zeros dropped).
        if layout[i] in ".," and i + 1 < len(layout) and layout[i + 1] in "09":
            j = i + 1
            while j < len(layout) and layout[j] == layout[i + 1]:
                j += 1
            if j == len(layout) or not layout[j].isdigit():
                digits = f"{t.microsecond:06d}{'0' * 3}"[: j - i - 1]
                if layout[i + 1] == "9":
                    digits = digits.rstrip("0")
                    out.append(layout[i] + digits if digits else "")
                else:
                    out.append(layout[i] + digits)
                i = j
                continue
        for tok in _TOKENS:
            if layout.startswith(tok, i):
                out.append(_render(t, tok))
                i += len(tok)
                break
        else:
            out.append(layout[i])
            i += 1
    return "".join(out)


RFC3339 = "2006-01-02T15:04:05Z07:00"
