from django.apps import AppConfig


class StudioConfig(AppConfig):
    name = "studio"
    verbose_name = "Image Studio"

    def ready(self) -> None:
        from django_q.signals import post_execute_in_worker, post_spawn

        from studio.health import record_worker_heartbeat

        post_spawn.connect(record_worker_heartbeat, dispatch_uid="studio-heartbeat-spawn")
        post_execute_in_worker.connect(record_worker_heartbeat, dispatch_uid="studio-heartbeat")
