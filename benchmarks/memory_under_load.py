"""Server memory under a classroom's load: one huge upload, N browser sessions at once, and after they close.

Goals (issue 16): a 204 KB PNG of 7999x7999 must not add 450 MB for one upload; nine
sessions must stay within 4 GB (they peaked at 8 GB warm); what closed sessions held must
be released (4.7 GB was still held 7 minutes after every session had closed).

What it does, against the checkout given (default: this one), with a fresh ``streamlit run``
on a free port, an empty torch.hub cache (the offline defaults run: the coarse map and
EfficientNet-Lite0 saliency) and headless Chromium sessions with their own profiles:

1. one session on Segmentation with the bundled sample (torch imported, model loaded), closed;
2. one session uploads a 7999x7999 PNG (a few hundred KB) to Segmentation, waits for the
   result: the server's RSS before, at its peak, and once it has settled;
3. ``--sessions`` sessions at once, half on Segmentation, half on Saliency, each its own photo;
4. all closed: the RSS after Streamlit has dropped the sessions (``--ttl``) and a minute more.

The server's resident memory is read from /proc every 0.2 s. Run from the repository root:

    python benchmarks/memory_under_load.py [--checkout PATH] [--sessions 9] [--ttl 20]

To compare with an older commit:  git archive <commit> | tar -x -C /tmp/before
then  python benchmarks/memory_under_load.py --checkout /tmp/before. It prints figures, it is
not a test; on a machine shared with other jobs, times stretch but the memory figures hold.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._server import free_port, server_script, wait_for_health  # noqa: E402
from tests.dashboard.test_concurrent_sessions import distinct_photos, run_session  # noqa: E402

MB = 2**20


class RssSampler(threading.Thread):
    """Reads a process's VmRSS every ``interval_s``; ``peak_since(mark)`` gives the highest value after a mark."""

    def __init__(self, pid: int, interval_s: float = 0.2):
        super().__init__(daemon=True)
        self.pid, self.interval_s, self.samples, self.stop_event = pid, interval_s, [], threading.Event()

    def rss(self) -> int:
        with open(f"/proc/{self.pid}/status") as status:
            return next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmRSS:"))

    def run(self) -> None:
        while not self.stop_event.is_set():
            try:
                self.samples.append((time.monotonic(), self.rss()))
            except (OSError, StopIteration):
                return
            time.sleep(self.interval_s)

    def peak_since(self, mark: float) -> int:
        return max((rss for t, rss in self.samples if t >= mark), default=0)


def big_png(folder: Path) -> Path:
    """A 7999x7999 PNG of a few hundred KB (large flat areas compress well: the decompression is the cost)."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (7999, 7999), (70, 130, 180))
    draw = ImageDraw.Draw(image)
    for i in range(0, 7999, 400):
        draw.ellipse((i, i // 2, i + 1600, i // 2 + 1200), fill=(200 - i // 50, 120, 40 + i // 60))
    path = folder / "huge_7999.png"
    image.save(path, optimize=True)
    return path


def sessions_at_once(url: str, photos: list[Path], folder: Path) -> list:
    pages = ["segmentation" if i % 2 == 0 else "saliency" for i in range(len(photos))]
    with ThreadPoolExecutor(max_workers=len(photos)) as pool:
        futures = [
            pool.submit(run_session, url, page, photo, folder / f"s{i}") for i, (page, photo) in enumerate(zip(pages, photos))
        ]
        return [f.result() for f in futures]


def settle(sampler: RssSampler, seconds: float) -> int:
    time.sleep(seconds)
    return sampler.rss()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--checkout", type=Path, default=ROOT, help="the cvlens checkout whose dashboard is served")
    parser.add_argument("--sessions", type=int, default=9)
    parser.add_argument(
        "--ttl", type=int, default=20, help="server.disconnectedSessionTTL: seconds before a closed session is dropped"
    )
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="cvlens-memory-"))
    port = free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "TORCH_HOME": str(folder / "torch"), "CVLENS_HOME": str(folder / "home")}
    env.pop("CVLENS_STRICT_PAGES", None)
    app = server_script(args.checkout)
    command = [sys.executable, "-m", "streamlit", "run", str(app), "--server.port", str(port), "--server.headless", "true",
               "--server.fileWatcherType", "none", "--server.disconnectedSessionTTL", str(args.ttl)]  # fmt: skip
    log = open(folder / "server.log", "wb")
    proc = subprocess.Popen(command, cwd=args.checkout, stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    rows = []
    try:
        wait_for_health(url, proc, timeout_s=180)
        sampler = RssSampler(proc.pid)
        sampler.start()
        rows.append(("server started, no session", sampler.rss(), None))

        warm = run_session(url, "segmentation", distinct_photos(1, folder)[0], folder / "warm")
        rows.append(("after one Segmentation session (torch, model loaded)", settle(sampler, 5), None))
        if warm.errors:
            print("warm-up session:", warm.errors[:2], file=sys.stderr)

        huge = big_png(folder)
        before, mark = sampler.rss(), time.monotonic()
        outcome = run_session(url, "segmentation", huge, folder / "huge")
        peak, after = sampler.peak_since(mark), settle(sampler, 5)
        rows.append((f"one {huge.stat().st_size // 1024} KB 7999x7999 PNG: before", before, None))
        rows.append(("  ... its peak / settled, session still open", peak, after))
        print(f"7999x7999 PNG: adds {(after - before) / MB:.0f} MB (peak +{(peak - before) / MB:.0f} MB); "
              f"shown: {outcome.shown[:1]} errors: {outcome.errors[:1]}")  # fmt: skip

        mark = time.monotonic()
        outcomes = sessions_at_once(url, distinct_photos(args.sessions, folder), folder / "many")
        rows.append((f"{args.sessions} sessions at once: peak / when they finished", sampler.peak_since(mark), sampler.rss()))
        failed = [o for o in outcomes if o.errors or not o.shown]
        print(f"{args.sessions} sessions: {len(outcomes) - len(failed)} got their results, {len(failed)} did not")

        rows.append((f"all closed, after the session TTL ({args.ttl} s) + 60 s", settle(sampler, args.ttl + 60), None))
        sampler.stop_event.set()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    print(f"\nServer RSS, {args.checkout}:")
    for what, rss, second in rows:
        extra = f" / {second / MB:7.0f} MB" if second is not None else ""
        print(f"  {what:<62} {rss / MB:7.0f} MB{extra}")
    print(f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; server log {folder / 'server.log'})")


if __name__ == "__main__":
    main()
