// Formatting only: instants in UTC and the browser's local time, durations, and a trigger in
// words. Nothing here decides anything the API decides (fire times come from its preview).

/// '2026-12-01 03:00:00 UTC' from an RFC 3339 instant.
export function utc(instant) {
  if (!instant) return '—';
  return instant.replace('T', ' ').replace(/(\.\d+)?Z$/, ' UTC');
}

/// The same instant in the browser's timezone, with the zone's short name.
export function local(instant) {
  if (!instant) return '';
  const d = new Date(instant);
  if (Number.isNaN(d.getTime())) return '';
  return d.toLocaleString(undefined, {
    year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit',
    second: '2-digit', timeZoneName: 'short',
  });
}

/// 1500 → '1.5 s'; 61000 → '1 min 1 s'.
export function duration(ms) {
  if (ms === null || ms === undefined) return '—';
  if (ms < 1000) return `${ms} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  const m = Math.floor(s / 60);
  return `${m} min ${Math.round(s % 60)} s`;
}

/// Lateness of a run: how long after its scheduled time it started.
export function lateness(run) {
  if (!run.started_at) return '—';
  return duration(Math.max(0, Date.parse(run.started_at) - Date.parse(run.scheduled_at)));
}

/// 3600 → 'every hour'; 90 → 'every 90 seconds'.
export function every(seconds) {
  const units = [[86400, 'day'], [3600, 'hour'], [60, 'minute'], [1, 'second']];
  for (const [size, name] of units) {
    if (seconds % size === 0) {
      const n = seconds / size;
      return n === 1 ? `every ${name}` : `every ${n} ${name}s`;
    }
  }
  return `every ${seconds} seconds`;
}

const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'];

function dayList(field) {
  if (field === '1-5') return 'on weekdays';
  if (/^\d(,\d)*$/.test(field)) return 'on ' + field.split(',').map((d) => DAYS[+d]).join(', ');
  return null;
}

const two = (n) => String(n).padStart(2, '0');

/// A 5-field cron expression in words, for the common shapes; anything else is said to be a
/// custom schedule (the expression is always shown beside it).
export function cronWords(expr) {
  const f = expr.trim().split(/\s+/);
  if (f.length !== 5) return 'custom schedule';
  const [min, hour, dom, mon, dow] = f;
  const anyDay = dom === '*' && mon === '*';
  if (f.every((x) => x === '*')) return 'every minute';
  const step = /^\*\/(\d+)$/.exec(min);
  if (step && hour === '*' && anyDay && dow === '*') return `every ${step[1]} minutes`;
  if (/^\d+$/.test(min) && hour === '*' && anyDay && dow === '*') return `hourly at minute ${min}`;
  if (/^\d+$/.test(min) && /^\d+$/.test(hour) && anyDay) {
    const at = `at ${two(hour)}:${two(min)}`;
    if (dow === '*') return `daily ${at}`;
    const days = dayList(dow);
    if (days) return `${at} ${days}`;
  }
  if (/^\d+$/.test(min) && /^\d+$/.test(hour) && /^\d+$/.test(dom) && mon === '*' && dow === '*') {
    return `monthly on day ${dom} at ${two(hour)}:${two(min)}`;
  }
  return 'custom schedule';
}

/// The trigger in words, e.g. 'daily at 03:00 (Europe/Berlin)'.
export function triggerWords(trigger) {
  if (!trigger) return '';
  switch (trigger.type) {
    case 'cron': return `${cronWords(trigger.expr)} (${trigger.timezone})`;
    case 'interval': return every(trigger.seconds);
    case 'date': return `once at ${utc(trigger.run_at)}`;
    default: return trigger.type;
  }
}
