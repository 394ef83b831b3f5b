"""The Runs, Run and Plugins pages, served inside the Airflow UI.

``api`` is a FastAPI app the api-server mounts at ``/fiftyops`` (through ``plugin``, an
``AirflowPlugin`` the provider ships); ``static`` holds the pages, plain HTML and JavaScript that
call that API with the Airflow session cookie. Who is asking comes from Airflow's auth manager
(``identity``); what they may see and do is decided by ``access``, the same rules the SDK uses.
"""
