// The Teach tab's canvas (ui/teach_tab.py), loaded once with the page (ui/app.py HEAD).
//
// "Add" stores exactly the drawing on the canvas at the click. The editor composes its layers into
// pictures asynchronously (several awaits), so strokes drawn meanwhile would slip into the picture,
// and a value it uploaded for a "change" listener may be older than the last stroke (Gradio sends
// that instead). And a Clear clicked on the page is itself asynchronous: a drawing begun at once
// could be wiped by it. So: the sketch has no change/input listener (its value is always composed
// afresh; the preview of what the model sees is asked for by a hidden button after each stroke);
// hold() veils the canvas at the click, before Gradio reads its value, so that no stroke lands;
// once the answer is in, release() clears the canvas, waits until the editor says it is clear (its
// Undo goes off), picks the brush again and lifts the veil. A second click sends the same drawing
// (refused by the project as identical) or, once cleared, an empty canvas (refused).
window.cnnTeach = (() => {
  const root = () => document.querySelector('#teach-sketch');
  const button = (label) => root()?.querySelector(`button[aria-label="${label}"]`);

  // the canvas takes strokes at once: the brush picked as soon as the editor shows it
  function pickBrush() {
    const t0 = Date.now();
    const pick = () => {
      const b = button('Brush');
      if (b) b.click();
      else if (Date.now() - t0 < 5000) setTimeout(pick, 200);
    };
    pick();
  }

  let holding = false;
  function hold() {
    if (holding) return;
    holding = true;
    let look = null;
    document.addEventListener('click', (e) => {
      const sketch = root();
      if (!e.target.closest?.('#teach-add') || !sketch || sketch.querySelector('.teach-taking')) return;
      const veil = document.createElement('div');
      veil.className = 'teach-taking';
      veil.textContent = 'Adding the drawing…';
      veil.style.cssText = 'position:absolute;inset:0;z-index:1000;display:flex;align-items:center;' +
        'justify-content:center;background:rgba(255,255,255,0.6);font-size:1.1em;touch-action:none';
      sketch.appendChild(veil);
      setTimeout(() => veil.remove(), 60000);  // never stuck
    }, true);
    document.addEventListener('pointerup', (e) => {
      if (!e.target.closest?.('#teach-sketch')) return;
      clearTimeout(look);
      look = setTimeout(() => document.querySelector('#teach-look')?.click(), 250);
    }, true);
  }

  function release() {
    button('Clear canvas')?.click();
    const t0 = Date.now();
    const ready = () => {  // cleared (the editor's history emptied: Undo off), then the brush picked
      const cleared = !button('Undo') || button('Undo').disabled;
      if (cleared) button('Brush')?.click();
      if (root() && (!cleared || root().innerText.includes('select the draw tool')) && Date.now() - t0 < 10000) {
        setTimeout(ready, 50);
      } else {
        // a settle: the editor makes its new layer after the clear asynchronously, and strokes before
        // it are lost (tests/test_page_teach.py draws at once after each Add, at 4x CPU throttling)
        setTimeout(() => root()?.querySelectorAll('.teach-taking').forEach((v) => v.remove()), 600);
      }
    };
    setTimeout(ready, 50);
  }

  return { pickBrush, hold, release };
})();
