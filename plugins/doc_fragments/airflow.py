# -*- coding: utf-8 -*-
# Copyright: contributors to ha_airflow.aws
# Apache License 2.0 (see galaxy.yml)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # Options shared by the modules that drive an installed Airflow (airflow_db, airflow_user).
    DOCUMENTATION = r"""
options:
  airflow_executable:
    description:
      - The C(airflow) command to drive, usually the one inside Airflow's virtual environment,
        for example C(/opt/airflow/venv/bin/airflow).
      - A bare name is looked up on E(PATH).
      - The Python interpreter of that environment (read from the executable's C(#!) line, or the
        C(python3) next to it) runs the module's introspection helper, so the module itself only
        needs the target's system Python.
    type: path
    default: airflow
  airflow_home:
    description:
      - Directory exported as E(AIRFLOW_HOME); Airflow reads C(airflow.cfg) (and C(webserver_config.py)) there.
      - When omitted, the environment of the remote user decides (Airflow's default is C(~/airflow)).
    type: path
  environment:
    description:
      - Extra environment variables for every Airflow command and helper the module runs,
        for example C(AIRFLOW__DATABASE__SQL_ALCHEMY_CONN) (Airflow 2.3+) or C(AIRFLOW__CORE__SQL_ALCHEMY_CONN)
        (Airflow 2.0-2.2).
      - The secrets among the values are never shown in the output, wherever they appear (messages, command output,
        the module's invocation with C(-vvv)). They are the password part of every URL (C(SQL_ALCHEMY_CONN),
        C(BROKER_URL), C(RESULT_BACKEND), C(AIRFLOW_CONN_*), ...) and the whole value of a variable whose name says
        it holds a secret (C(*PASSWORD*), C(*SECRET*), C(*TOKEN*), C(*_KEY*) such as C(AIRFLOW__CORE__FERNET_KEY)
        and C(AIRFLOW__WEBSERVER__SECRET_KEY)). A secret is masked however short it is.
      - Other values (a queue name, C(AIRFLOW_HOME), numbers) are shown as given, so they never turn the output into
        noise.
    type: dict
    default: {}
notes:
  - Supports Airflow 2.0 to 3.x; the differences between versions (CLI verbs, configuration sections)
    live in one map in the collection's private C(module_utils/_airflow.py).
  - Run the module as the user that owns the Airflow installation (for example with C(become_user=airflow)),
    so files Airflow creates in E(AIRFLOW_HOME) get the right owner.
requirements:
  - Apache Airflow 2.0 or later installed on the target (any Python it supports).
"""
