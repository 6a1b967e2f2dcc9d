"""The login limit: failed sign-ins refused per client address, an account slowed rather than locked.

No Flask here; kept in memory per process (a restart forgets it, which only helps a guesser a little).
"""

import threading
import time
from collections import deque


class RateLimit:
    """Counts of recent events per key: each is forgotten `window_s` seconds after it happened."""

    MAX_KEYS = 100_000   # past this many keys, those with nothing recent are dropped (bounded memory)

    def __init__(self, window_s=300.0):
        self.window_s = window_s
        self._hits = {}
        self._lock = threading.Lock()

    def _recent(self, key, now):
        hits = self._hits.get(key) or deque()
        while hits and now - hits[0] > self.window_s:
            hits.popleft()
        return hits

    def count(self, key):
        """Give how many events `key` had within the window."""
        with self._lock:
            return len(self._recent(key, time.monotonic()))

    def add(self, key):
        """Count one event of `key`."""
        now = time.monotonic()
        with self._lock:
            if key not in self._hits and len(self._hits) >= self.MAX_KEYS:
                self._hits = {k: h for k in self._hits if (h := self._recent(k, now))}
            hits = self._hits[key] = self._recent(key, now)
            hits.append(now)

    def retry_after(self, key, limit):
        """Give the seconds until `key` has fewer than `limit` events, or 0 when it has already."""
        now = time.monotonic()
        with self._lock:
            hits = self._recent(key, now)
            return int(self.window_s - (now - hits[-limit])) + 1 if len(hits) >= limit else 0

    def reset(self, key):
        """Forget a key's events."""
        with self._lock:
            self._hits.pop(key, None)

    def clear(self):
        """Forget every key's events."""
        with self._lock:
            self._hits.clear()


class LoginGuard:
    """Slows password guessing without locking an account's owner out.

    Failed sign-ins are refused per client address (`address_limit` in 5 minutes), so one client
    cannot try much. An account is never refused, since anyone could then lock its owner out;
    instead, after FREE_FAILURES recent failures on it, each attempt at it waits before the password
    is checked, twice as long per failure up to MAX_DELAY_S: a guesser spread over many addresses
    gets a few tries a second at most, the owner only a short wait.
    """

    FREE_FAILURES = 3
    MAX_DELAY_S = 5.0

    def __init__(self, window_s=300.0, address_limit=20, sleep=time.sleep):
        self.addresses, self.accounts = RateLimit(window_s), RateLimit(window_s)
        self.address_limit, self.sleep = address_limit, sleep

    def refusal(self, address):
        """Give the seconds this address must wait before trying again, or 0 when it may try."""
        return self.addresses.retry_after(address, self.address_limit)

    def delay(self, name):
        """Give the seconds an attempt at account `name` waits before its password is checked."""
        extra = self.accounts.count(str(name).lower()) - self.FREE_FAILURES
        return 0 if extra < 0 else min(0.25 * 2**extra, self.MAX_DELAY_S)

    def attempt(self, address, name, check):
        """Wait the account's delay, call `check()`; count a failure (falsy answer); give its answer."""
        self.sleep(self.delay(name))
        answer = check()
        if answer:
            self.addresses.reset(address)
        else:
            self.addresses.add(address)
            self.accounts.add(str(name).lower())
        return answer

    def clear(self):
        """Forget every attempt."""
        self.addresses.clear()
        self.accounts.clear()
