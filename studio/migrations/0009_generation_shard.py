# Polling in parallel: each job's poller shard, and the index a pass reads its shards' jobs by.
# Jobs already in flight get shard 0 (its holder polls them); new jobs get their key's shard.

from django.db import migrations, models

from studio.web import search


class Migration(migrations.Migration):
    dependencies = [
        ("studio", "0008_generation_polled_at"),
    ]

    operations = [
        migrations.AddField(
            model_name="generation",
            name="shard",
            field=models.PositiveSmallIntegerField(default=0),
        ),
        migrations.AddIndex(
            model_name="generation",
            index=models.Index(
                fields=["shard", "status", "next_poll_at"], name="generation_poll_shard"
            ),
        ),
        # SQLite adds a NOT NULL column with a CHECK by rebuilding studio_generation, which
        # drops the prompt search's triggers with the old table: put them back.
        migrations.RunPython(search.install, migrations.RunPython.noop),
    ]
