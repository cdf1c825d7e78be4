(function () {
  "use strict";
  var box = null;
  function close() { if (box) { box.remove(); box = null; window.vaekitLightbox = null; } }
  document.addEventListener("click", function (event) {
    var image = event.target;
    if (box) { close(); return; }
    if (image.tagName !== "IMG" || !image.closest(".figures")) { return; }
    box = document.createElement("div");
    box.id = "lightbox";
    var large = document.createElement("img");
    large.src = image.src;
    large.alt = image.alt;
    large.style.width = image.naturalWidth + "px";
    box.appendChild(large);
    document.body.appendChild(box);
    window.vaekitLightbox = image.alt;
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") { close(); }
  });
})();
