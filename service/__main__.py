import sys

from service.frontends.cli import main

sys.exit(main())
