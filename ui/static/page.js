// The page's own tab switching (ui/design_link_open.py) and the drawing editors' idle frames, loaded
// once with the page (ui/app.py HEAD).
//
// Tabs. Why not `gr.Tabs(selected=...)` as an event's output: Gradio 6.31 keeps every output of an
// event that has run in its list of loading statuses for the rest of the page's life, and at every
// later status change of any event (each start, each answer, each timer tick) it reads the value of
// every component inside each of them again. The Tabs hold the whole page, so an output of the page's
// load event made every event re-read every component: the Draw tab's drawing was rendered to three
// PNGs and uploaded again each time (docs/performance-cpu.md, "The idle page"). A click on the tab's
// button changes nothing but the tab, as a person's click does.
//
// Idle frames. Each drawing editor (gr.Sketchpad, gr.ImageEditor) is a PixiJS application. Gradio
// stops the application's own ticker half a second after the last input, but PixiJS's event system
// keeps its "system" ticker asking for an animation frame 60 times a second for as long as the page
// is open, on any tab, only to notice a pointer resting over a moving object: the browser then
// composes frames for nothing. That ticker is paused once no pointer has moved on the page for a
// second and started again by the next pointer event, before PixiJS sees it (a capture listener):
// strokes are PixiJS's own pointer listeners, which need no ticker.
//
// Gradio's and PixiJS's internals reached from here are named in GRADIO_DOM and PIXI and nowhere
// else; tests/test_page_idle.py fails when a release changes them.
window.cnnPage = (() => {
  const GRADIO_DOM = {
    // a tab's button in gr.Tabs' bar: <button role="tab" data-tab-id="train">Train</button>
    tabButton: (id) => `button[role="tab"][data-tab-id="${id}"]`,
  };
  const PIXI = {
    // PixiJS (8.x) calls this hook with every Application it initialises (meant for its devtools)
    appInitHook: '__PIXI_APP_INIT__',
    // the Ticker class's "system" ticker (autoStart, the event system's), from an app's own ticker
    systemTicker: (app) => app?.ticker?.constructor?.system,
  };
  const IDLE_MS = 1000;  // no pointer this long: the system ticker pauses

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

  const tickers = new Set();  // the system tickers of the page's PixiJS applications (one, in practice)
  let idleTimer = null;
  const state = { pauses: 0, resumes: 0 };

  function pause() {
    idleTimer = null;
    for (const t of tickers) {
      if (t.started) { t.stop(); state.pauses += 1; }
    }
  }

  function wake() {
    for (const t of tickers) {
      if (!t.started) { t.start(); state.resumes += 1; }
    }
    clearTimeout(idleTimer);
    idleTimer = setTimeout(pause, IDLE_MS);
  }

  const previousHook = globalThis[PIXI.appInitHook];
  globalThis[PIXI.appInitHook] = function (app, version) {
    setTimeout(() => {  // (after the application's other plugins: its ticker is made by one)
      const t = PIXI.systemTicker(app);
      if (t) { tickers.add(t); wake(); }  // paused a second after the editor appears, unless touched
    }, 0);
    if (typeof previousHook === 'function') return previousHook.call(this, app, version);
  };
  for (const kind of ['pointerdown', 'pointermove', 'pointerover', 'wheel']) {
    window.addEventListener(kind, wake, { capture: true, passive: true });
  }
  document.addEventListener('visibilitychange', () => (document.hidden ? pause() : wake()));

  return { GRADIO_DOM, PIXI, openTab, openTabForQuery, tickers, state };
})();
