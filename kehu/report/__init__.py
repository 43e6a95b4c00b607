"""``kehu report``: the KPIs of a period and scope as one self-contained HTML file (KPI-1).

``data`` asks the ``kpis`` query in-process as a named staff member (their rights, rows and
suppression, exactly as the API answers them); ``charts`` draws the figures with plotly;
``page`` assembles one file with plotly.js inlined, which opens without a network.
"""
