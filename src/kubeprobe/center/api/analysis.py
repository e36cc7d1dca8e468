"""Routes for run analysis: a run's diagnosed cause, evidence and verification, and operators' corrections."""

from __future__ import annotations

from fastapi import APIRouter

from kubeprobe.center.api.deps import Operator, StoreDep, Viewer
from kubeprobe.center.schemas.analysis import AnalysisOut, FeedbackIn, FeedbackOut
from kubeprobe.center.store import analysis

router = APIRouter(prefix="/api/v1")


@router.get("/runs/{run_id}/analysis", response_model=AnalysisOut, tags=["analysis"])
async def get_analysis(run_id: str, who: Viewer, store: StoreDep) -> AnalysisOut:
    """The run's analysis: cause, confidence, source, priority, evidence summary, verification."""
    async with store.transaction() as session:
        return AnalysisOut(**await analysis.get_analysis(session, run_id))


@router.post(
    "/runs/{run_id}/analysis/feedback", status_code=201, response_model=FeedbackOut, tags=["analysis"]
)
async def post_feedback(run_id: str, body: FeedbackIn, who: Operator, store: StoreDep) -> FeedbackOut:
    """Correct a run's cause; the classifier trains on corrections (latest per run) from then on."""
    async with store.transaction() as session:
        return FeedbackOut(**await analysis.add_feedback(session, run_id, body.cause, who))
