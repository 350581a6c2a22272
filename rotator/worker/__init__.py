"""The Celery side: the app, the tasks (views over the rotation service), beat's scheduler, the
sweep, worker liveness and the Redis broker transport. The only package that imports celery,
kombu or redbeat.
"""
