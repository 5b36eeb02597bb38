import sys

from service.backbone.resolve import main

sys.exit(main())
