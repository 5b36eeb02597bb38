"""``python -m service.distributed``: batch analysis on Ray Data (see ``service.frontends.distributed``)."""

import sys

from service.frontends.distributed import main

if __name__ == "__main__":
    sys.exit(main())
