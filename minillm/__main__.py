import sys

from .cli import main

if __name__ == "__main__":  # `python -m minillm`; importing the module (doctests) runs nothing
    sys.exit(main())
