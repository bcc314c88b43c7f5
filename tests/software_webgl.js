// Added to every page the browser tests open (app_helpers.software_webgl), before the page's own
// scripts. Headless chromium on a machine with no GPU draws WebGL with SwiftShader, on the CPU.
// PixiJS (the drawing editors) batches up to 16 textures in one draw call, with a fragment shader that
// picks each pixel's texture through a chain of 16 branches: on a GPU that costs nothing, in SwiftShader
// it was most of every frame (150 frames of the Draw tab's editor: 39 CPU-s, 11 with one texture unit,
// the drop shadow's filter apart; 2026-12-07). Reporting one texture unit makes PixiJS draw one texture
// a batch: the same pixels, fewer CPU-seconds. tests/test_page_idle.py checks the pixels.
(() => {
  const MAX_TEXTURE_IMAGE_UNITS = 0x8872;
  for (const Context of [WebGLRenderingContext, WebGL2RenderingContext]) {
    const getParameter = Context.prototype.getParameter;
    Context.prototype.getParameter = function (name) {
      return name === MAX_TEXTURE_IMAGE_UNITS ? 1 : getParameter.call(this, name);
    };
  }
})();
