"""How closely one model variant's outputs follow another's (numpy only: runs on bare GPU machines too).

The implementation lives in calibration.gates (the CPU build gates with it); this name stays for callers."""

from calibration.gates import agreement

__all__ = ["agreement"]
