"""The protected-category guard: the one gate every configuration path goes through.

Alarm types (API, import, default dictionary), routing and mapping rules, event attribute
keys and values, and search filters are judged here. Whatever is aimed at a protected
activity (assembly, petitioning, strikes), a protected characteristic of people (religion,
ethnicity, political opinion, union membership, sexual orientation, health) or biometric
identification or categorisation is ``refused``, with no override. Ambiguous uses (a place
of worship as the site of a fire, crowd-crush safety, hate crimes that protect victims) are
``review``: allowed only with a written justification, which the caller records.

The vocabulary is data (``lexicon.toml``, reviewed like code); :mod:`.normalise` defeats
spelling tricks; :mod:`.verdicts` holds the policy; :mod:`.taxonomy` audits whole files.
"""

from tocsin.guard.verdicts import Judgement, Verdict, judge_attributes, judge_definition, judge_term

__all__ = ("Judgement", "Verdict", "judge_attributes", "judge_definition", "judge_term")
