"""Work-intensity checks on scheduling and task decisions (SER advice on algorithmic
management; the Dutch Arbeidstijdenwet by default).

``profile`` holds the thresholds as data, ``assignments`` reads shifts and tasks out of
a decision, ``rules`` judges a worker's timeline, ``ledger`` keeps the timelines in the
database, ``monitor`` publishes the gauges and ``report`` the per-rule summary.
"""
