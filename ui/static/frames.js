// The loader's timer, stopped. Each Gradio status tracker counts a pending event's seconds in a loop
// of animation frames, which it stops when the event ends. The tracker over the loading page is taken
// off the page while its status is still pending, so its loop goes on asking for a frame 60 times a
// second for the page's life (Gradio 6.31), and the browser composes every one: most of what an idle
// page cost (docs/performance-cpu.md, "The idle page"). A tracker's timer loop begun before the app is
// on the page is the loader's: it ends at its next frame once the app is there. The trackers of events
// start later and keep theirs.
//
// Gradio's status tracker keeps its own reference to requestAnimationFrame, taken when its module
// loads, so this script must run first: the server puts it at the top of the page's <head>
// (ui/gradio_internals.py, ScriptFirst), not in launch(head=), which Gradio adds later.
// Gradio's internals reached from here are named in GRADIO only; tests/test_page_idle.py fails when a
// release changes them.
window.cnnFrames = (() => {
  const GRADIO = {
    appShown: 'button[role="tab"]',  // the app is on the page (the loader gone): gr.Tabs' bar
    // a status tracker's timer step, minified: `()=>{F(Pe,(performance.now()-w(de))/1e3),W&&ze()}`
    isTrackerTimer: (f) => {
      const s = String(f);
      return s.length < 100 && s.includes('performance.now()') && s.includes('/1e3');
    },
  };
  // every frame asked for (this wraps all others), and the loader's timer loops found and ended
  const count = { asked: 0, loaderLoops: 0, loaderEnded: 0 };
  const askFrame = window.requestAnimationFrame.bind(window);
  let booting = true;  // until the app is on the page
  let inLoaderLoop = false;  // the frame callback running is a step of the loader's loop
  window.requestAnimationFrame = (step) => {
    count.asked += 1;
    if (booting && document.querySelector(GRADIO.appShown)) booting = false;
    let ours = inLoaderLoop;
    if (!ours && booting && GRADIO.isTrackerTimer(step)) { ours = true; count.loaderLoops += 1; }
    if (!ours) return askFrame(step);
    if (!booting) { count.loaderEnded += 1; return 0; }  // the app is there: the loader's loop ends
    return askFrame((t) => {
      inLoaderLoop = true;
      try { return step(t); } finally { inLoaderLoop = false; }
    });
  };
  return { GRADIO, count };
})();
