import shlex

CLOVER = "clover"


def data_dir_flag():
    """`--data-dir` for the clover command when the config names one."""
    d = config.get("data_dir")
    return f"--data-dir {shlex.quote(str(d))}" if d else ""
