"""What pyconsul, pytemplate and pyregistrator share with Go so their command lines read the same.

- `strconv`: Go's `strconv.ParseBool` table and `ParseInt(s, 0, 64)` (base prefixes, octal).
- `flagscan`: Go's `flag` package rules for walking argv (one or two dashes, `-x=v`, `-x v`,
  booleans standing alone, `--` and the first non-flag ending the flags, Go's error texts).
- `durations`: Go's `time.ParseDuration` and `Duration.String`.

Each is pure and imports only the standard library, so a CLI call stays fast.
"""
