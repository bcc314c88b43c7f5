// The page's own tab switching (ui/design_link_open.py), loaded once with the page (ui/app.py HEAD).
//
// Why not `gr.Tabs(selected=...)` as an event's output: Gradio 6.31 keeps every output of an event
// that has run in its list of loading statuses for the rest of the page's life, and at every later
// status change of any event (each start, each answer, each timer tick) it reads the value of every
// component inside each of them again. The Tabs hold the whole page, so an output of the page's load
// event made every event re-read every component: the Draw tab's drawing was rendered to three PNGs
// and uploaded again each time (docs/performance-cpu.md, "The idle page"). A click on the tab's
// button changes nothing but the tab, as a person's click does.
//
// Gradio's DOM reached from here is named in GRADIO_DOM and nowhere else; tests/test_page_idle.py
// fails when a Gradio release changes it.
window.cnnPage = (() => {
  const GRADIO_DOM = {
    // a tab's button in gr.Tabs' bar: <button role="tab" data-tab-id="train">Train</button>
    tabButton: (id) => `button[role="tab"][data-tab-id="${id}"]`,
  };

  // Open the tab `id` (a gr.Tab's id=) as a click would, once its button is on the page.
  function openTab(id, waitMs = 15000) {
    const t0 = Date.now();
    const go = () => {
      const b = document.querySelector(GRADIO_DOM.tabButton(id));
      if (b) b.click();
      else if (Date.now() - t0 < waitMs) setTimeout(go, 200);
    };
    go();
  }

  // Open the tab `id` when the page's address has any of `keys` in its query (a share link).
  function openTabForQuery(keys, id) {
    const query = new URLSearchParams(window.location.search);
    if (keys.some((k) => query.has(k))) openTab(id);
  }

  return { GRADIO_DOM, openTab, openTabForQuery };
})();
