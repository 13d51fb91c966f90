// Pure health arithmetic shared by the views.

const RANK = { passing: 0, warning: 1, critical: 2 };

export function worst(checks) {
  if (!checks || !checks.length) return "none";
  if (checks.some((c) => c.CheckID === "_node_maintenance" || c.CheckID.startsWith("_service_maintenance:"))) return "maintenance";
  return checks.reduce((w, c) => ((RANK[c.Status] ?? 2) > (RANK[w] ?? 0) ? c.Status : w), "passing");
}

export function summaryStatus(s) {
  if (s.ChecksCritical) return "critical";
  if (s.ChecksWarning) return "warning";
  if (s.ChecksPassing) return "passing";
  return "none";
}

export function counts(checks) {
  const out = { passing: 0, warning: 0, critical: 0 };
  for (const c of checks || []) if (c.Status in out) out[c.Status] += 1;
  return out;
}

// Does `status` pass a list's status filter ("" keeps all; "maintenance" counts as critical).
export function statusMatches(filter, status) {
  if (!filter) return true;
  if (filter === "critical") return status === "critical" || status === "maintenance";
  return status === filter;
}

export function matchesSearch(needle, ...haystacks) {
  const n = (needle || "").trim().toLowerCase();
  if (!n) return true;
  return haystacks.flat().some((s) => String(s ?? "").toLowerCase().includes(n));
}
