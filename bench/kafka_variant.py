"""``oversight kafka`` with suggested changes patched in at run time, to measure them
before anyone makes them in adapters/ or oversight/ (``bench/kafka.py --variant``).

    .venv/bin/python bench/kafka_variant.py VARIANTS kafka --db URL --policy FILE ...

VARIANTS is a comma-separated list of:

- ``none``            no change (the same as ``oversight kafka``)
- ``uvloop``          the worker's event loop is uvloop (``oversight serve`` already runs
                      on it through uvicorn; ``oversight kafka`` uses plain asyncio)
- ``dump-once``       the decision's ``model_dump(mode="json")`` made for the body digest in
                      ``Oversight.prepare`` is reused for the ``decision_recorded`` payload in
                      ``DecisionRecorder._new`` (today the recorder dumps the model again).
                      The cache is keyed by ``id()`` of the model and emptied by ``_new``
                      only: good for a benchmark without replays, not as shipped code
- ``fetch-wait``      the worker's consumer with ``fetch_max_wait_ms=50`` (the flush
                      interval) instead of aiokafka's default 500 ms: how long the broker may
                      hold a fetch that has nothing new
- ``plan-lookup``     PostgreSQL's ``plan_cache_mode=force_custom_plan`` only around the
                      recorder's look-up of existing decision ids (``SET LOCAL`` before
                      ``DecisionRecorder._existing``, back to ``auto`` after it) instead of
                      for the whole connection (``oversight/database.py``): the INSERTs,
                      executed once per row, then keep their generic plans instead of being
                      planned again for every row

The earlier variants ``batch-publish`` (routed messages as one record batch per partition)
and ``validate-json`` (``DecisionIn.model_validate_json`` on the bytes) are what
``adapters/kafka.py`` does now.
"""

from __future__ import annotations

import sys
from typing import Any

VARIANTS = {"none", "uvloop", "dump-once", "fetch-wait", "plan-lookup"}


def patch(variants: set[str]) -> None:
    unknown = variants - VARIANTS
    if unknown:
        raise SystemExit(f"unknown variants: {', '.join(sorted(unknown))}")

    if "uvloop" in variants:
        import uvloop

        uvloop.install()  # asyncio.run in oversight.cli._run then makes a uvloop loop

    if "dump-once" in variants:
        from oversight import recorder
        from oversight.audit import canonical_json, sha256_hex

        dumps: dict[int, dict[str, Any]] = {}

        def digest_of(decision: Any) -> str:
            dump = decision.model_dump(mode="json")
            dumps[id(decision)] = dump
            return sha256_hex(canonical_json(dump))

        class Decision:
            """Stands in for the model inside _new: model_dump answers from the cache."""

            def __init__(self, model: Any) -> None:
                self._model = model

            def __getattr__(self, name: str) -> Any:
                return getattr(self._model, name)

            def model_dump(self, **kwargs: Any) -> dict[str, Any]:
                dump = dumps.pop(id(self._model), None)
                if dump is None or kwargs.get("mode") != "json":
                    return self._model.model_dump(**kwargs)  # type: ignore[no-any-return]
                return {k: v for k, v in dump.items() if k not in kwargs.get("exclude", ())}

        original_new = recorder.DecisionRecorder._new

        def _new(self: Any, submission: Any, **kwargs: Any) -> Any:
            import dataclasses

            wrapped = dataclasses.replace(submission, decision=Decision(submission.decision))
            return original_new(self, wrapped, **kwargs)

        recorder.Submission.digest_of = staticmethod(digest_of)  # type: ignore[method-assign]
        recorder.DecisionRecorder._new = _new  # type: ignore[method-assign]

    if "fetch-wait" in variants:
        import functools

        import adapters.kafka

        adapters.kafka.AIOKafkaConsumer = functools.partial(  # type: ignore[misc]
            adapters.kafka.AIOKafkaConsumer, fetch_max_wait_ms=50
        )

    if "plan-lookup" in variants:
        from oversight import database, recorder, service

        def create_engine(url: str, **options: Any) -> Any:
            if database.async_url(url).get_backend_name() == "postgresql":
                options.setdefault("connect_args", {})  # no server_settings: plans as default
            return database.create_engine(url, **options)

        original_existing = recorder.DecisionRecorder._existing

        async def _existing(connection: Any, decision_ids: list[str]) -> Any:
            if connection.dialect.name != "postgresql":
                return await original_existing(connection, decision_ids)
            await connection.exec_driver_sql("SET LOCAL plan_cache_mode = force_custom_plan")
            found = await original_existing(connection, decision_ids)
            await connection.exec_driver_sql("SET LOCAL plan_cache_mode = auto")
            return found

        service.create_engine = create_engine  # type: ignore[assignment]
        recorder.DecisionRecorder._existing = staticmethod(_existing)  # type: ignore[method-assign,assignment]


def main() -> None:
    variants = set(sys.argv[1].split(","))
    patch(variants)
    from oversight.cli import main as oversight_main

    sys.argv = ["oversight", *sys.argv[2:]]
    oversight_main()


if __name__ == "__main__":
    main()
