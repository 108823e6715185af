"""Dead targets for an hour of the server's time (docs/RELIABILITY.md §3,
"An hour of simulated outage"; issue 9).

The retry back-offs of SNS HTTP delivery, EventBridge rule targets and
trail delivery run on the scheduling clock of util/testclock.c: with
GREENTRAIL_TEST_FAULTS=1 the server adds DATA_DIR/test-clock-advance-ms to
the wall clock whenever it asks whether a retry is due. This test moves
that clock SPEED times faster than real time (SPEED=60: an hour in a
minute), so every back-off runs its whole schedule, up to its cap, many
times over.

One server, three dead targets at once:
  - an SNS HTTP subscription and an EventBridge API destination, both
    local receivers that go through four outage modes, a quarter of the
    simulated time each: connection refused, hanging past the HTTP
    timeout, 500, 503; then healthy again;
  - a trail whose built-in S3 bucket is deleted for the whole outage, then
    recreated with its policy.
Throughout: CreateGroup calls at a steady real rate (timed), an SNS
Publish every 2 simulated minutes, the server's RSS sampled, every
delivery attempt stamped with the simulated time (from the server's log
for SNS and EventBridge, from GetTrailStatus's LatestDeliveryAttemptTime
for the trail).

Checked:
  - calls not slowed: CreateGroup p50 during the outage vs. before;
  - memory bounded: RSS growth from the end of the first quarter to the end;
  - the back-off schedules: no retry earlier than its schedule allows
    (base x 2^n, capped: SNS 1 s..20 s per message, EventBridge
    --rules-interval-ms..--rules-retry-max-ms per target, trail
    --delivery-interval..300 s per trail), and in the refused/500/503
    quarters the retries keep coming at about the cap (not stuck);
  - errors shown: GetTrailStatus's LatestDeliveryError (NoSuchBucket) and
    `greentrail rules-status` (failures, last_error) during the outage;
  - nothing lost, in order: after recovery the API destination gets every
    CreateGroup in the order made (first arrival of each event id), the
    bucket gets every CreateGroup record; SNS delivers every message whose
    retry budget (50 attempts, ~15.5 simulated minutes) was not spent and
    logs "giving up" for each of the others (SNS's documented policy: a
    message is dropped, with a log line, only after its last attempt).
"""
import json
import os
import re
import statistics
import subprocess
import sys
import threading
import time
import urllib.request

import botocore.exceptions

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))

from conftest import BIN, Server  # noqa: E402
from events_util import Receiver  # noqa: E402
from trail_util import delivered_records, make_bucket, s3  # noqa: E402

PATTERN = {"source": ["aws.greengrass"], "detail-type": ["AWS API Call via CloudTrail"],
           "detail": {"eventSource": ["greengrass.amazonaws.com"], "eventName": ["CreateGroup"]}}
MODES = ("refused", "hang", "500", "503")
SNS_BASE, SNS_CAP, SNS_BUDGET = 1000, 20000, 50
EV_BASE, EV_CAP = 500, 60000          # the defaults: --rules-interval-ms, --rules-retry-max-ms
CT_BASE, CT_CAP = 1000, 300000        # --delivery-interval 1, CT_MAX_BACKOFF_S
EV_LINE = re.compile(r"greentrail: events: delivery of (\S+) to (\S+) failed \(attempt (\d+)\)")
SNS_LINE = re.compile(r"sns: delivery of (\S+) to \S+ failed \(attempt (\d+)\)")
SNS_GIVEUP = re.compile(r"sns: giving up on message (\S+) after (\d+) attempts")


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def schedule(base, cap, n):
    """The shortest wait before attempt n+1 after attempt n (n >= 1)."""
    d = base
    for _ in range(1, n):
        if d >= cap:
            break
        d *= 2
    return min(d, cap)


class Clock:
    """The server's scheduling clock: wall clock + the advance we write."""

    def __init__(self, data_dir, speed):
        self.path = os.path.join(data_dir, "test-clock-advance-ms")
        self.speed = speed
        self.t0 = None
        self.advance_ms = 0

    def start(self):
        self.t0 = time.monotonic()

    def tick(self):
        if self.t0 is None:
            return 0
        real = time.monotonic() - self.t0
        self.advance_ms = int(real * (self.speed - 1) * 1000)
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            f.write(str(self.advance_ms))
        os.replace(tmp, self.path)
        return self.sim_s()

    def sim_s(self):
        """Simulated seconds since start()."""
        return (time.monotonic() - self.t0) * self.speed if self.t0 is not None else 0.0


def _confirm_sns(sns, topic, rx):
    sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=rx.url + "/sns")
    end = time.time() + 20
    while time.time() < end:
        for r in list(rx.requests):
            if r["body"] and json.loads(r["body"]).get("Type") == "SubscriptionConfirmation":
                with urllib.request.urlopen(json.loads(r["body"])["SubscribeURL"], timeout=5) as x:
                    x.read()
                return
        time.sleep(0.05)
    raise AssertionError("no SubscriptionConfirmation")


def _rules_status(s):
    cmd = [BIN, "rules-status", "--data-dir", s.data_dir]
    if s.store_url:
        cmd += ["--store", s.store_url]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=True).stdout
    return json.loads(out)["targets"][0]


def _gaps(attempts, base, cap, tol_s):
    """attempts: [(n, lo, hi)] of one item in order: attempt n was seen
    between our loop passes at simulated times lo and hi (lo: a pass that
    also wrote the clock file, so the server's clock was at most that far
    behind). Returns (gaps, early): gaps as (n, midpoint gap, schedule's
    wait), early the gaps that cannot have been as long as the schedule
    says (even the longest possible, next hi - this lo, is shorter)."""
    gaps, early = [], []
    for (n0, lo0, hi0), (_, lo1, hi1) in zip(attempts, attempts[1:]):
        g = (lo1 + hi1) / 2 - (lo0 + hi0) / 2
        want = schedule(base, cap, n0) / 1000.0
        gaps.append((n0, round(g, 1), want))
        if hi1 - lo0 < want - tol_s:
            early.append((n0, round(hi1 - lo0, 1), want))
    return gaps, early


def run(tmp_path, sim_minutes=60, speed=60, calls_per_s=5):
    data = os.path.join(str(tmp_path), "sim-data")
    s = Server(data, env={"GREENTRAIL_TEST_FAULTS": "1"}, args=["--delivery-interval", "1"]).start()
    clock = Clock(data, speed)
    rx_ev, rx_sns = Receiver().start(), Receiver().start()
    log_pos = [0]
    ev_att, sns_att, giveups = {}, {}, {}

    def read_log(lo, _now):
        now_sim = clock.sim_s()   # hi: the read itself, after the lines were written
        with open(s.data_dir + ".log", "rb") as f:
            f.seek(log_pos[0])
            chunk = f.read()
        cut = chunk.rfind(b"\n") + 1
        log_pos[0] += cut
        for line in chunk[:cut].decode(errors="replace").splitlines():
            m = EV_LINE.search(line)
            if m:
                ev_att.setdefault(m.group(1), []).append((int(m.group(3)), lo, now_sim))
            m = SNS_LINE.search(line)
            if m:
                sns_att.setdefault(m.group(1), []).append((int(m.group(2)), lo, now_sim))
            m = SNS_GIVEUP.search(line)
            if m:
                giveups[m.group(1)] = int(m.group(2))

    try:
        ev, gg, ct, sns = s.client("events"), s.client("greengrass"), s.client("cloudtrail"), s.client("sns")
        make_bucket(s, "sim-bkt")
        ct.create_trail(Name="sim-trail", S3BucketName="sim-bkt")
        ct.start_logging(Name="sim-trail")
        c = ev.create_connection(Name="c", AuthorizationType="API_KEY", AuthParameters={
            "ApiKeyAuthParameters": {"ApiKeyName": "k", "ApiKeyValue": "v"}})
        arn = ev.create_api_destination(Name="d", ConnectionArn=c["ConnectionArn"],
                                        InvocationEndpoint=rx_ev.url + "/hook",
                                        HttpMethod="POST")["ApiDestinationArn"]
        ev.put_rule(Name="r", EventPattern=json.dumps(PATTERN))
        ev.put_targets(Rule="r", Targets=[{"Id": "http", "Arn": arn}])
        topic = sns.create_topic(Name="sim")["TopicArn"]
        _confirm_sns(sns, topic, rx_sns)

        made = []
        for i in range(50):
            made.append(gg.create_group(Name=f"base-{i}")["Id"])
        # the trail's first objects
        end = time.time() + 30
        while time.time() < end and len(delivered_records(s, "sim-bkt")) < 50:
            time.sleep(0.2)
        c3 = s3(s)

        # ---- a healthy minute, then the outage, on the simulated clock;
        # the same loop and caller run in both, so latencies compare
        healthy = 3.0 * speed   # 3 s of real time
        sim_total = healthy + sim_minutes * 60.0
        quarter = sim_minutes * 60.0 / 4
        published, rss, ct_att, ct_err, rules_seen = [], [], [], None, None
        lat = {}
        phase = ["healthy"]
        n_base = None
        last_attempt_time = None
        stop = threading.Event()

        def caller():   # steady CreateGroup calls, timed, by phase
            g2 = s.client("greengrass")
            i = 0
            while not stop.is_set():
                ph = phase[0]
                t = time.perf_counter()
                made.append(g2.create_group(Name=f"out-{i}")["Id"])
                lat.setdefault(ph, []).append(time.perf_counter() - t)
                i += 1
                stop.wait(max(0.0, 1.0 / calls_per_s - (time.perf_counter() - t)))
        th = threading.Thread(target=caller, daemon=True)
        mode = "healthy"
        next_pub = healthy
        next_status = 0.0
        rss_mark = None
        prev_now = prev_status = 0.0
        clock.start()
        th.start()
        while True:
            now = clock.tick()
            if now >= sim_total:
                break
            want = "healthy" if now < healthy else MODES[min(3, int((now - healthy) // quarter))]
            if want != mode:
                if mode == "healthy":   # the bucket goes for the whole outage
                    for _ in range(50):   # the trail may put one more object in between
                        for k in [o["Key"] for o in c3.list_objects(Bucket="sim-bkt").get("Contents", [])]:
                            c3.delete_object(Bucket="sim-bkt", Key=k)
                        try:
                            c3.delete_bucket(Bucket="sim-bkt")
                            break
                        except botocore.exceptions.ClientError as e:
                            if e.response["Error"]["Code"] != "BucketNotEmpty":
                                raise
                    n_base = len(made) + 1   # (+1: a call in flight may have been delivered and deleted)
                    last_attempt_time = ct.get_trail_status(Name="sim-trail").get("LatestDeliveryAttemptTime")
                if mode == "refused":
                    rx_ev.start()
                    rx_sns.start()
                if want == "refused":
                    rx_ev.stop()
                    rx_sns.stop()
                for rx in (rx_ev, rx_sns):
                    rx.delay = 12.0 if want == "hang" else 0.0
                    rx.status = {"500": 500, "503": 503}.get(want, 200)
                if mode == "refused":
                    rss_mark = rss_kb(s.proc.pid)
                mode = want
                phase[0] = want
            if mode != "healthy" and now >= next_pub:
                published.append((sns.publish(TopicArn=topic, Message=f"m{len(published)}")["MessageId"], now))
                next_pub += 120.0
            if now >= next_status:
                if mode != "healthy":
                    st = ct.get_trail_status(Name="sim-trail")
                    if st.get("LatestDeliveryAttemptTime") != last_attempt_time:
                        last_attempt_time = st.get("LatestDeliveryAttemptTime")
                        ct_att.append((len(ct_att) + 1, prev_status, clock.sim_s()))
                    ct_err = st.get("LatestDeliveryError") or ct_err
                else:
                    ct.get_trail_status(Name="sim-trail")   # the same load as during the outage
                rss.append((round(now), rss_kb(s.proc.pid), mode))
                next_status = now + 0.1 * speed   # every 0.1 s of real time
                prev_status = now
            read_log(prev_now, now)
            prev_now = now
            time.sleep(0.02)
        stop.set()
        th.join()
        rules_seen = _rules_status(s)
        rss_end = rss_kb(s.proc.pid)
        st_out = ct.get_trail_status(Name="sim-trail")

        # ---- back: healthy receivers, the bucket again; keep the clock running
        for rx in (rx_ev, rx_sns):
            rx.delay, rx.status = 0.0, 200
        n_before = {id(rx): len(rx.requests) for rx in (rx_ev, rx_sns)}
        make_bucket(s, "sim-bkt")
        t_back = time.time()

        def distinct_ev():
            seen, order = set(), []
            for r in list(rx_ev.requests):
                if r["body"]:
                    b = json.loads(r["body"])
                    if b["id"] not in seen:
                        seen.add(b["id"])
                        order.append(b["detail"]["responseElements"]["Id"])
            return order

        def sns_delivered():
            got = set()
            for r in rx_sns.requests[n_before[id(rx_sns)]:]:
                if r["body"]:
                    got.add(json.loads(r["body"]).get("MessageId"))
            return got

        def trail_ids():
            return {r["responseElements"]["Id"] for r in delivered_records(s, "sim-bkt")
                    if r["eventName"] == "CreateGroup" and r.get("responseElements")}

        pub_ids = {m for m, _ in published}
        done = False
        while time.time() - t_back < 120:
            clock.tick()
            read_log(clock.sim_s(), clock.sim_s())
            if (len(distinct_ev()) >= len(made) and set(made[n_base:]) <= trail_ids()
                    and pub_ids <= sns_delivered() | set(giveups)):
                done = True
                break
            time.sleep(0.2)
        catch_up = time.time() - t_back
        st_back = ct.get_trail_status(Name="sim-trail")

        # ---- figures and checks
        got = distinct_ev()
        assert done, ("not all delivered", st_back, len(got), len(made), len(trail_ids()),
                      len(pub_ids - sns_delivered() - set(giveups)))
        assert got == made, "EventBridge: lost or out of order"
        # (the base calls' objects went with the emptied bucket)
        assert set(made[n_base:]) <= trail_ids()
        # attempts are bracketed by our passes (see _gaps); 2 s for rounding
        tol = 2.0
        ev_first = [v for v in ev_att.values()]
        ev_gaps, ev_early = [], []
        for att in ev_first:
            g, e = _gaps(att, EV_BASE, EV_CAP, tol)
            ev_gaps += g
            ev_early += e
        sns_gaps, sns_early = [], []
        for att in sns_att.values():
            g, e = _gaps(att, SNS_BASE, SNS_CAP, tol)
            sns_gaps += g
            sns_early += e
        ct_gaps, ct_early = _gaps(ct_att, CT_BASE, CT_CAP, tol)
        assert not ev_early and not sns_early and not ct_early, (ev_early, sns_early, ct_early)
        # retries keep coming: EventBridge at its cap (60 s) outside the hang
        # quarter makes ~45 attempts in an hour; demand a third of that
        n_ev = sum(len(v) for v in ev_att.values())
        assert n_ev >= (3 * quarter / (EV_CAP / 1000.0)) / 3, n_ev
        assert len(ct_att) >= sim_total / (CT_CAP / 1000.0) / 3, ct_att
        # SNS: every message delivered or given up after its whole budget
        delivered = sns_delivered()
        lost = pub_ids - delivered - set(giveups)
        assert not lost, lost
        assert all(n == SNS_BUDGET for n in giveups.values()), giveups
        late = {m for m, t in published if t > sim_total - 600}
        assert late <= delivered, late - delivered
        # errors shown
        assert ct_err == "NoSuchBucket" and st_out.get("LatestDeliveryError") == "NoSuchBucket", (ct_err, st_out)
        assert "LatestDeliveryError" not in st_back, st_back
        assert rules_seen["failures"] > 0 and rules_seen["last_error"], rules_seen
        # calls not slowed, memory bounded
        out_lat = [x for m in MODES for x in lat.get(m, [])]
        b50 = statistics.median(lat["healthy"]) * 1000
        o50 = statistics.median(out_lat) * 1000
        o95 = sorted(out_lat)[int(len(out_lat) * 0.95) - 1] * 1000
        by_mode = {m: round(statistics.median(lat[m]) * 1000, 2) for m in MODES if lat.get(m)}
        assert o50 < 2 * b50 + 5, (b50, o50, by_mode)
        growth = rss_end - (rss_mark or rss[0][1])
        assert growth < 8192, rss
        at_cap = [g for n, g, w in ev_gaps if w >= EV_CAP / 1000.0]
        sns_cap = [g for n, g, w in sns_gaps if w >= SNS_CAP / 1000.0]
        ct_cap = [g for n, g, w in ct_gaps if w >= CT_CAP / 1000.0]
        # at the cap: about the cap, neither faster nor stuck (slack: the
        # worker's own wake-up period and our polling, ~1 s of real time;
        # hangs add the HTTP timeout to a few gaps, the median ignores them)
        for name, gs, cap in (("events", at_cap, EV_CAP), ("sns", sns_cap, SNS_CAP), ("trail", ct_cap, CT_CAP)):
            if len(gs) >= 5:   # (the short form may have too few to judge)
                m = statistics.median(gs)
                assert 0.9 * cap / 1000.0 <= m <= cap / 1000.0 + 1.0 * speed + tol, (name, m, gs)
        return {
            "simulated_minutes": sim_minutes, "speed": speed, "real_s": round(sim_total / speed + catch_up, 1),
            "calls": len(made), "create_p50_ms_before": round(b50, 2), "create_p50_ms_outage": round(o50, 2),
            "create_p95_ms_outage": round(o95, 2), "create_p50_ms_by_mode": by_mode,
            "rss_kb_after_first_quarter": rss_mark, "rss_kb_end": rss_end, "rss_growth_kb": growth,
            "rss_kb_min_max": [min(r for _, r, _ in rss), max(r for _, r, _ in rss)],
            "rss_kb_max_by_mode": {m: max(r for _, r, mm in rss if mm == m) for m in ("healthy",) + MODES
                                   if any(mm == m for _, _, mm in rss)},
            "ev_attempts": n_ev, "ev_gap_at_cap_s_median_max": [statistics.median(at_cap), max(at_cap)] if at_cap else None,
            "ev_failures_rules_status": rules_seen["failures"], "ev_last_error": rules_seen["last_error"][:80],
            "sns_published": len(published), "sns_delivered_after": len(pub_ids & delivered),
            "sns_given_up_after_50": len(giveups), "sns_attempts": sum(len(v) for v in sns_att.values()),
            "sns_gap_at_cap_s_median_max": [statistics.median(sns_cap), max(sns_cap)] if sns_cap else None,
            "trail_attempts": len(ct_att), "trail_gaps_s": [g for _, g, _ in ct_gaps],
            "trail_gap_at_cap_s_median": statistics.median(ct_cap) if ct_cap else None,
            "trail_error": ct_err, "catch_up_real_s": round(catch_up, 1),
            "received_by_api_destination": len(rx_ev.requests), "distinct_delivered": len(got),
        }
    finally:
        rx_ev.stop()
        rx_sns.stop()
        s.stop()


if __name__ == "__main__":
    import tempfile
    minutes = int(sys.argv[1]) if len(sys.argv) > 1 else 60
    speed = int(sys.argv[2]) if len(sys.argv) > 2 else 60
    with tempfile.TemporaryDirectory() as d:
        print(json.dumps(run(d, sim_minutes=minutes, speed=speed), indent=1))
