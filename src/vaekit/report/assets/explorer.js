(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("explorer-data").textContent);
  if (!data) { return; }
  var TAB10 = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
    "#7f7f7f", "#bcbd22", "#17becf"];
  var PAD = {left: 46, right: 12, top: 12, bottom: 40};
  var scatter = document.getElementById("scatter");
  var context = scatter.getContext("2d");
  var plot = {x: PAD.left, y: PAD.top, w: scatter.width - PAD.left - PAD.right,
    h: scatter.height - PAD.top - PAD.bottom};
  var e = data.extent;  // x min, x max, y min, y max of the grid's centres
  var state = {cell: null, picked: null, ready: false, sheet: 0, at: null};
  var axes = data.projection === "pca" ? ["principal component 1", "principal component 2"]
    : ["z[0]", data.zDim > 1 ? "z[1]" : "(unused)"];

  function colour(label) {
    if (label === null || label === undefined) { return TAB10[0]; }
    var distinct = (data.classNames || []).length;
    if (distinct <= 10 && label >= 0 && label < 10) { return TAB10[label]; }
    return "hsl(" + ((label * 137.5) % 360) + ", 65%, 45%)";
  }
  function toPixel(x, y) {
    return [plot.x + (x - e[0]) / (e[1] - e[0]) * plot.w,
            plot.y + (e[3] - y) / (e[3] - e[2]) * plot.h];
  }
  function toPlane(px, py) {
    return [e[0] + (px - plot.x) / plot.w * (e[1] - e[0]),
            e[3] - (py - plot.y) / plot.h * (e[3] - e[2])];
  }
  function drawTile(sheet, image, index, canvas) {
    var c = canvas.getContext("2d");
    var scale = Math.min(canvas.width / sheet.width, canvas.height / sheet.height);
    var w = sheet.width * scale, h = sheet.height * scale;
    c.imageSmoothingEnabled = false;
    c.fillStyle = "#000";
    c.fillRect(0, 0, canvas.width, canvas.height);
    c.drawImage(image, (index % sheet.columns) * sheet.width,
      Math.floor(index / sheet.columns) * sheet.height, sheet.width, sheet.height,
      (canvas.width - w) / 2, (canvas.height - h) / 2, w, h);
  }
  function ticks(low, high) {
    var step = Math.pow(10, Math.floor(Math.log10((high - low) / 4)));
    if ((high - low) / step > 10) { step *= 2; }
    if ((high - low) / step > 10) { step *= 2.5; }
    var values = [];
    for (var v = Math.ceil(low / step) * step; v <= high; v += step) {
      values.push(Math.abs(v) < step / 1e6 ? 0 : v);
    }
    return values;
  }
  function draw() {
    context.clearRect(0, 0, scatter.width, scatter.height);
    context.strokeStyle = "#999";
    context.strokeRect(plot.x, plot.y, plot.w, plot.h);
    context.fillStyle = "#444";
    context.font = "11px sans-serif";
    context.textAlign = "center";
    ticks(e[0], e[1]).forEach(function (v) {
      var p = toPixel(v, e[2]);
      context.fillText(+v.toPrecision(3), p[0], plot.y + plot.h + 14);
    });
    context.fillText(axes[0], plot.x + plot.w / 2, plot.y + plot.h + 32);
    context.textAlign = "right";
    ticks(e[2], e[3]).forEach(function (v) {
      context.fillText(+v.toPrecision(3), plot.x - 4, toPixel(e[0], v)[1] + 4);
    });
    context.save();
    context.translate(12, plot.y + plot.h / 2);
    context.rotate(-Math.PI / 2);
    context.textAlign = "center";
    context.fillText(axes[1], 0, 0);
    context.restore();
    context.globalAlpha = 0.7;
    for (var i = 0; i < data.x.length; i++) {
      var p = toPixel(data.x[i], data.y[i]);
      context.fillStyle = colour(data.labels ? data.labels[i] : null);
      context.fillRect(p[0] - 1.5, p[1] - 1.5, 3, 3);
    }
    context.globalAlpha = 1;
    if (state.picked !== null) {
      var q = toPixel(data.x[state.picked], data.y[state.picked]);
      context.strokeStyle = "#000";
      context.lineWidth = 2;
      context.beginPath();
      context.arc(q[0], q[1], 6, 0, 2 * Math.PI);
      context.stroke();
      context.lineWidth = 1;
    }
  }
  function legend() {
    var box = document.getElementById("legend");
    if (!data.labels) { box.textContent = "no labels"; return; }
    var seen = Array.from(new Set(data.labels)).sort(function (a, b) { return a - b; });
    seen.forEach(function (label) {
      var item = document.createElement("span");
      var dot = document.createElement("i");
      dot.style.background = colour(label);
      item.appendChild(dot);
      var name = data.classNames && data.classNames[label] !== undefined
        ? data.classNames[label] : String(label);
      item.appendChild(document.createTextNode(name));
      box.appendChild(item);
    });
  }
  function showCell(x, y, again) {
    var n = data.grid;
    state.at = [x, y];
    var column = Math.round((x - e[0]) / (e[1] - e[0]) * (n - 1));
    var row = Math.round((e[3] - y) / (e[3] - e[2]) * (n - 1));
    column = Math.max(0, Math.min(n - 1, column));
    row = Math.max(0, Math.min(n - 1, row));
    if (!again && state.cell && state.cell[0] === row && state.cell[1] === column) { return; }
    state.cell = [row, column];
    drawTile(data.gridSheets[state.sheet], images.grids[state.sheet], row * n + column,
      document.getElementById("decoded"));
    var cx = e[0] + column / (n - 1) * (e[1] - e[0]), cy = e[3] - row / (n - 1) * (e[3] - e[2]);
    var as = data.gridNames && data.gridNames.length > 0
      ? " as " + (data.gridLabel || "class") + " " + data.gridNames[state.sheet] : "";
    document.getElementById("decoded-caption").textContent =
      "decoded at (" + cx.toFixed(2) + ", " + cy.toFixed(2) + ")" + as;
  }
  function nearest(px, py) {
    var best = null, distance = 100;  // within 10 pixels
    for (var i = 0; i < data.x.length; i++) {
      var p = toPixel(data.x[i], data.y[i]);
      var d = (p[0] - px) * (p[0] - px) + (p[1] - py) * (p[1] - py);
      if (d < distance) { best = i; distance = d; }
    }
    return best;
  }
  function pick(i) {
    state.picked = i;
    drawTile(data.originals, images.originals, i, document.getElementById("original"));
    drawTile(data.reconstructions, images.reconstructions, i,
      document.getElementById("reconstruction"));
    var label = data.labels ? data.labels[i] : null;
    var name = label === null ? "" : ", label " + (data.classNames && data.classNames[label]
      !== undefined ? data.classNames[label] : label);
    document.getElementById("picked-caption").textContent =
      "test image " + i + name + ": original (left), reconstruction (right)";
    document.getElementById("picked").hidden = false;
    draw();
  }
  function position(event) {
    var box = scatter.getBoundingClientRect();
    return [(event.clientX - box.left) * scatter.width / box.width,
            (event.clientY - box.top) * scatter.height / box.height];
  }
  var images = {grids: []}, pending = 0;
  function load(sheet, keep) {
    var image = new Image();
    pending += 1;
    image.onload = function () {
      pending -= 1;
      if (pending === 0) { start(); }
    };
    image.src = sheet.src;
    keep(image);
  }
  data.gridSheets.forEach(function (sheet) {
    load(sheet, function (image) { images.grids.push(image); });
  });
  load(data.originals, function (image) { images.originals = image; });
  load(data.reconstructions, function (image) { images.reconstructions = image; });
  function start() {
    state.ready = true;
    showCell((e[0] + e[1]) / 2, (e[2] + e[3]) / 2);
    var picker = document.getElementById("grid-class");
    if (picker) {
      picker.addEventListener("change", function () {
        state.sheet = +picker.value;
        showCell(state.at[0], state.at[1], true);
      });
    }
    scatter.addEventListener("pointermove", function (event) {
      var p = toPlane.apply(null, position(event));
      showCell(p[0], p[1]);
    });
    scatter.addEventListener("click", function (event) {
      var i = nearest.apply(null, position(event));
      if (i !== null) { pick(i); }
    });
  }
  draw();
  legend();
  window.vaekitExplorer = {
    state: state,
    // A test image's dot, in CSS pixels from the scatter canvas's top left corner.
    pointPosition: function (i) {
      var p = toPixel(data.x[i], data.y[i]), box = scatter.getBoundingClientRect();
      return [p[0] * box.width / scatter.width, p[1] * box.height / scatter.height];
    },
    count: data.x.length
  };
})();
