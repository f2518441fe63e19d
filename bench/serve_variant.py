"""``oversight serve`` with experimental changes patched in at run time, to measure a
change suggested for oversight/ before anyone makes it (bench/ingest.py --variant).

    .venv/bin/python bench/serve_variant.py VARIANTS serve --db URL --policy FILE ...

VARIANTS is a comma-separated list of:

- ``none``          no change (the same as ``oversight serve``)
- ``async-dep``     ``oversight.api.auth.get_oversight`` as an ``async def``: FastAPI runs
                    a plain ``def`` dependency in its thread pool, one thread hop per request
- ``no-pre-ping``   the PostgreSQL engine without ``pool_pre_ping`` (one round trip less
                    per connection checkout, i.e. per decision batch and per key look-up)
- ``gc-freeze``     ``gc.collect(); gc.freeze()`` once the app has started: the objects of
                    start-up (modules, FastAPI, pydantic, SQLAlchemy) leave the collector's
                    generations, so full collections stop walking them
- ``gc-threshold``  ``gc.set_threshold(50_000, 20, 20)`` once the app has started
"""

from __future__ import annotations

import gc
import sys
from typing import Any


def patch(variants: set[str]) -> None:
    unknown = variants - {"none", "async-dep", "no-pre-ping", "gc-freeze", "gc-threshold"}
    if unknown:
        raise SystemExit(f"unknown variants: {', '.join(sorted(unknown))}")

    if "no-pre-ping" in variants:
        import oversight.database
        import oversight.service

        original = oversight.database.create_engine

        def create_engine(url: str, **options: Any) -> Any:
            if not url.startswith("sqlite"):
                options.setdefault("pool_pre_ping", False)
            return original(url, **options)

        oversight.database.create_engine = create_engine
        oversight.service.create_engine = create_engine  # type: ignore[attr-defined]

    if "async-dep" in variants:
        # The routers read OversightDep when their modules are imported, so swap it in
        # before oversight.api's __init__ imports them.
        import importlib.util
        from pathlib import Path
        from typing import Annotated

        from fastapi import Depends, Request

        import oversight
        from oversight.service import Oversight

        package_dir = Path(oversight.__file__).parent / "api"
        spec = importlib.util.spec_from_file_location(
            "oversight.api", package_dir / "__init__.py",
            submodule_search_locations=[str(package_dir)],
        )  # fmt: skip
        assert spec is not None and spec.loader is not None
        package = importlib.util.module_from_spec(spec)
        sys.modules["oversight.api"] = package
        from oversight.api import auth

        async def get_oversight(request: Request) -> Oversight:
            found: Oversight = request.state.oversight
            return found

        # FastAPI reads the annotations; with postponed evaluation they are strings that
        # name nothing in this module's globals, so give it the classes.
        get_oversight.__annotations__ = {"request": Request, "return": Oversight}

        auth.get_oversight = get_oversight  # type: ignore[assignment]
        auth.OversightDep = Annotated[Oversight, Depends(get_oversight)]  # type: ignore[misc]
        spec.loader.exec_module(package)
        oversight.api = package  # type: ignore[attr-defined]  # as the import system would

    if variants & {"gc-freeze", "gc-threshold"}:
        import oversight.api

        api = sys.modules["oversight.api"]
        build = api.create_app

        def create_app(*args: Any, **kwargs: Any) -> Any:
            app = build(*args, **kwargs)
            original_lifespan = app.router.lifespan_context

            def lifespan(application: Any) -> Any:
                class Wrapped:
                    async def __aenter__(self) -> Any:
                        self.inner = original_lifespan(application)
                        state = await self.inner.__aenter__()
                        if "gc-freeze" in variants:
                            gc.collect()
                            gc.freeze()
                        if "gc-threshold" in variants:
                            gc.set_threshold(50_000, 20, 20)
                        return state

                    async def __aexit__(self, *exc: Any) -> Any:
                        return await self.inner.__aexit__(*exc)

                return Wrapped()

            app.router.lifespan_context = lifespan
            return app

        api.create_app = create_app


def main() -> None:
    variants = set(sys.argv[1].split(","))
    patch(variants)
    from oversight.cli import main as oversight_main

    sys.argv = ["oversight", *sys.argv[2:]]
    oversight_main()


if __name__ == "__main__":
    main()
