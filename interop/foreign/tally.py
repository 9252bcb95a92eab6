"""Counting checks: each foreign check prints `NAME: N passed, M failed`."""


class Tally:
    def __init__(self, name):
        self.name, self.passed, self.failed = name, 0, 0

    def check(self, ok, what):
        if ok:
            self.passed += 1
        else:
            self.failed += 1
            print(f"  FAILED ({self.name}): {what}")

    def report(self):
        print(f"{self.name}: {self.passed} passed, {self.failed} failed")
