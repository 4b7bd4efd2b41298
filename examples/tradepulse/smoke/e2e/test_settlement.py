"""End-to-end settlement smoke (stand-in for scripts/smoke_e2e.py in the example)."""


def test_end_of_day_recon(ledger):
    """Every fill of the day reconciles against the venue's drop copy."""
    # The harness seeds a day of fills in staging, runs end-of-day
    # reconciliation and reads back the breaks.
    #
    #
    #
    #
    breaks = ledger.reconcile(day="2026-12-01")
    #
    assert not breaks, f"{len(breaks)} unreconciled fills (expected 0)"
