"""Switchboard analysts' app — entry point (`streamlit run streamlit_app/app.py`).

Reads only the published serving copy (SWITCHBOARD_SERVING_PATH), never the live warehouse.
Pages are registered here; each page's logic lives in `streamlit_app/views/`, its data
access and KPI math in `streamlit_app/queries.py`.
"""

import streamlit as st

from streamlit_app.views import calls, queues_agents

st.set_page_config(
    page_title="Switchboard",
    page_icon="📞",
    layout="wide",
    # "auto": open on a wide screen, folded on a narrow one, where it left the KPI tiles ~100 px
    initial_sidebar_state="auto",
)

queues_and_agents = st.Page(
    queues_agents.render,
    title=queues_agents.TITLE,
    icon=":material/support_agent:",
    url_path="queues-and-agents",  # served at the root: the default page's path is never shown
    default=True,
)


def _to_queues_and_agents() -> None:
    # "/queues" is the path people type and bookmark; Streamlit has no page there and showed
    # "Page not found". Every value of a repeated parameter (a range's two days, several queues)
    # as a list: as (key, value) pairs Streamlit kept the last one only (independent app audit)
    params = {key: st.query_params.get_all(key) for key in st.query_params}
    st.switch_page(queues_and_agents, query_params=params)


pages = [
    queues_and_agents,
    st.Page(
        calls.render,
        title=calls.TITLE,
        icon=":material/call:",
        url_path="calls",
    ),
    st.Page(_to_queues_and_agents, title=queues_agents.TITLE, url_path="queues", visibility="hidden"),
]

st.navigation(pages).run()
