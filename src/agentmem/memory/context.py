"""Text blocks for an LLM prompt: working-memory context and the enriched context.

Working context (:func:`format_working_context`): the last ``detailed_steps`` steps in
full, every older step compressed to one line::

    Earlier steps (compressed):
    - Step 1 [ok]: Open the repository -> cloned 1.2k files
    Recent steps:
    Step 2 [ok]: Run the tests
      Reasoning: check the baseline
      Observation: 3 failures
      Tools: pytest

Enriched context (:func:`format_enriched_context`), the format of the earlier adapter;
sections other than the first appear only when non-empty, separated by a blank line::

    [Current Task Context]
    <working context>

    [Relevant Past Experiences]
    - <task_prompt>: <compressed_content>

    [Relevant Knowledge]
    - <pattern>: <content>

    [Relevant Skills]
    - <skill_name>: <description> (success rate: 87.5%)
"""

from __future__ import annotations

from collections.abc import Sequence

from agentmem.memory.models import Episode, SemanticMemory, Skill, WorkingStep

__all__ = ["NO_STEPS", "format_enriched_context", "format_working_context", "shorten"]

NO_STEPS = "No steps recorded yet."
_LINE = 120


def shorten(text: str, width: int = _LINE) -> str:
    """One line of at most ``width`` characters (whitespace collapsed, '...' when cut)."""
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 3].rstrip() + "..."


def _status(step: WorkingStep) -> str:
    return "ok" if step.success else "failed"


def compress_step(step: WorkingStep) -> str:
    """A step as one line: number, status, action and the start of the observation."""
    line = f"Step {step.step_number} [{_status(step)}]: {shorten(step.action, 60)}"
    if step.observation:
        line += f" -> {shorten(step.observation, 60)}"
    if step.error:
        line += f" (error: {shorten(step.error, 40)})"
    return line


def detail_step(step: WorkingStep) -> list[str]:
    """A step in full, one field per line."""
    lines = [f"Step {step.step_number} [{_status(step)}]: {step.action}"]
    if step.reasoning:
        lines.append(f"  Reasoning: {step.reasoning}")
    if step.observation:
        lines.append(f"  Observation: {step.observation}")
    if step.tool_names:
        lines.append(f"  Tools: {', '.join(step.tool_names)}")
    if step.error:
        lines.append(f"  Error: {step.error}")
    return lines


def format_working_context(steps: Sequence[WorkingStep], detailed_steps: int = 10) -> str:
    """Recent steps in full, older ones compressed to a line each."""
    if not steps:
        return NO_STEPS
    cut = max(len(steps) - max(detailed_steps, 0), 0)
    older, recent = steps[:cut], steps[cut:]
    lines: list[str] = []
    if older:
        lines.append("Earlier steps (compressed):")
        lines.extend(f"- {compress_step(s)}" for s in older)
    if recent:
        lines.append("Recent steps:")
        for step in recent:
            lines.extend(detail_step(step))
    return "\n".join(lines)


def format_enriched_context(
    working: str,
    episodes: Sequence[Episode],
    knowledge: Sequence[SemanticMemory],
    skills: Sequence[Skill],
) -> str:
    """The sectioned block (see the module docstring)."""
    sections = [f"[Current Task Context]\n{working}"]
    if episodes:
        sections.append(
            "[Relevant Past Experiences]\n"
            + "\n".join(f"- {e.task_prompt}: {e.compressed_content}" for e in episodes)
        )
    if knowledge:
        sections.append(
            "[Relevant Knowledge]\n" + "\n".join(f"- {k.pattern}: {k.content}" for k in knowledge)
        )
    if skills:
        sections.append(
            "[Relevant Skills]\n"
            + "\n".join(
                f"- {s.skill_name}: {s.description} (success rate: {s.success_rate * 100:.1f}%)"
                for s in skills
            )
        )
    return "\n\n".join(sections)
