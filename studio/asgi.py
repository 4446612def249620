"""The studio under ASGI (uvicorn workers in gunicorn, as the Procfile runs it): the API's
waits for jobs are coroutines, so a hundred waiting clients hold no worker."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studio.settings")
# Read by settings: no persistent database connections (each request's ORM calls run on a
# thread of their own under ASGI).
os.environ["STUDIO_ASGI"] = "1"
application = get_asgi_application()
