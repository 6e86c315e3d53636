"""The link soak, short: `fit-lab analyser simulate` → a relay process damaging the line at random → `fit-lab
analyser listen`, over two real pty pairs, the listener SIGKILLed a few times (issue 19). The full month
(over 10,000 faults, 25 kills, 7,000 results) is `bench/link_soak.py`; its figures are in the README.

The promise is the one the hazard log makes (H18, H19, H67): whatever the line does, every result sent is stored
once, with the value sent.
"""

from __future__ import annotations

from bench.link_soak import run_soak
from tests.test_analyser_end_to_end import received_kits


def test_hundreds_of_random_line_faults_and_listener_kills_lose_and_duplicate_nothing(reference_loaded,
                                                                                      known_postcodes, db_url,
                                                                                      tmp_path):
    ids = received_kits(reference_loaded, known_postcodes, 60)
    report = run_soak(db_url, ids, tmp_path, seed=5, fault_rate=0.25, kills=3, reply_timeout_s=0.5, per_message=5,
                      timeout_s=600, log=lambda _: None)
    summary = "\n".join(report.lines())
    print(summary)
    assert report.total_faults >= 200, summary
    assert report.kills == 3, summary
    assert report.simulate_exit == 0, summary
    assert (report.lost, report.duplicated, report.wrong_values) == ([], 0, []), summary
    assert report.stored == report.sent == 60, summary
