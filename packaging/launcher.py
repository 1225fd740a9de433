"""The frozen app's entry point (PyInstaller runs this file as ``__main__``): the same as ``nnstudio``."""

import multiprocessing
import sys

from nnstudio.cli import main

if __name__ == "__main__":
    multiprocessing.freeze_support()  # a frozen child process must not start a second app window
    sys.exit(main())
