"""tocsin: a public-safety alarm and incident platform.

Alarms arrive from equipment, on-duty officers and public calls; the engine classifies
them into a coded alarm-type dictionary, correlates repeats into incidents, and notifies
the people who must act. Every action is accountable.
"""

__all__ = ("__version__",)

__version__ = "0.1.0"
