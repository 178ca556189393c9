"""Where data sets live on disk."""

import os
from pathlib import Path


def get_data_home(data_home=None):
    """Return the folder that holds neurosim's data sets, creating it if needed.

    Parameters
    ----------
    data_home : str | path-like | None
        Folder to use. If None, ``$NEUROSIM_DATA`` is used, and ``~/neurosim_data`` if that is unset.

    Returns
    -------
    path : pathlib.Path
        The data folder.
    """
    if data_home is None:
        data_home = os.environ.get("NEUROSIM_DATA", Path("~") / "neurosim_data")
    path = Path(data_home).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path
