"""Service endpoints: liveness, readiness, metrics, index info, attribution and concept lookup."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse

from api.deps import ReadAccess
from api.middleware import note_text
from api.openapi import READ, errors
from api.responses import AttributionOut, ConceptsOut, HealthOut, InfoOut, ReadyOut
from api.routes.ask import check_text
from api.runtime import get_runtime, run_blocking
from api.schemas import Visible

router = APIRouter(tags=["service"])

# Shown when the engine cannot say (still loading, or an index without a knowledge manifest).
FALLBACK_ATTRIBUTION: list[dict[str, str]] = [
    {"name": "medquad", "licence": "CC BY 4.0",
     "attribution": "MedQuAD (Ben Abacha & Demner-Fushman, BMC Bioinformatics 2019), CC BY 4.0."},
    {"name": "pubmed", "licence": "NLM terms",
     "attribution": "PubMed abstracts courtesy of the U.S. National Library of Medicine."},
    {"name": "hpo", "licence": "HPO licence",
     "attribution": "This service/product is using the Human Phenotype Ontology (version 2025-01-16)."},
    {"name": "doid", "licence": "CC0 1.0", "attribution": "Human Disease Ontology (CC0), disease-ontology.org."},
    {"name": "gemma", "licence": "Gemma Terms of Use",
     "attribution": "Gemma is provided under and subject to the Gemma Terms of Use found at ai.google.dev/gemma/terms."},
]


@router.get("/healthz", summary="Liveness", response_model=HealthOut)
async def healthz() -> Any:
    """Always 200 while the process serves requests."""
    return {"status": "ok"}


@router.get("/readyz", summary="Readiness", response_model=ReadyOut,
            responses={503: {"model": ReadyOut, "description": "Index loading or failed to load.",
                             "headers": {"Retry-After": {"schema": {"type": "integer"}}}}})
async def readyz(request: Request) -> Any:
    """200 once the index is loaded and the models are warm; 503 (with the reason) before that."""
    runtime = get_runtime(request)
    if runtime.ready and runtime.engine is not None:
        return JSONResponse({"ready": True, "index": runtime.index, "revision": runtime.engine.revision})
    reason = f"index failed to load: {runtime.error}" if runtime.error else "index is loading"
    return JSONResponse({"ready": False, "reason": reason}, status_code=503, headers={"Retry-After": "5"})


@router.get("/metrics", summary="Prometheus metrics", response_class=Response,
            responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}},
                             "description": "Prometheus text exposition."}})
async def metrics(request: Request) -> Response:
    """Requests and latencies per route, answer stage timings, readiness and index revision."""
    runtime = get_runtime(request)
    runtime.metrics.ready.set(1 if runtime.ready else 0)
    if runtime.ready and runtime.engine is not None:
        runtime.metrics.revision.set(runtime.engine.revision)
    return Response(runtime.metrics.render(), media_type=runtime.metrics.content_type)


@router.get("/v1/info", summary="Index and model information", response_model=InfoOut,
            responses=errors(*READ, 503))
async def info(request: Request, _: ReadAccess) -> Any:
    """Index name, revision, counts, embedding model, dimension, FAISS factory and generator."""
    engine = get_runtime(request).require_engine()
    return await run_blocking(engine.info)


@router.get("/v1/attribution", summary="Attribution lines the licences require", response_model=AttributionOut)
async def attribution(request: Request) -> Any:
    """One entry per source (name, licence, attribution line) to display with answers."""
    runtime = get_runtime(request)
    items: list[dict[str, str]] = []
    if runtime.ready and runtime.engine is not None:
        items = list((await run_blocking(runtime.engine.info)).get("attribution") or [])
    if items:
        return {"attribution": items, "source": "index"}
    return {"attribution": FALLBACK_ATTRIBUTION, "source": "fallback"}


@router.get("/v1/concepts", summary="Link concepts in a text", response_model=ConceptsOut,
            responses=errors(422, *READ, 503))
async def concepts(
    request: Request,
    q: Annotated[Visible, Query(description="Text in which to find concepts, e.g. 'heart attack'.")],
    _: ReadAccess,
) -> Any:
    """Ontology concepts named in ``q`` with their codes (DOID, ICD-10-CM, MeSH, UMLS, SNOMED CT), synonyms and definitions."""
    runtime = get_runtime(request)
    text = check_text(q, runtime, "q")
    note_text(request, "query_text", text)
    engine = runtime.require_engine()
    found = await run_blocking(engine.concepts, text)
    return {"q": text, "count": len(found), "concepts": [c.to_dict() for c in found]}
