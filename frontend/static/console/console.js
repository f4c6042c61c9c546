// Draws the service page's Plotly figures from the JSON the server rendered (json_script); nothing else.
(function () {
  "use strict";
  var config = {responsive: true, displaylogo: false, modeBarButtonsToRemove: ["lasso2d", "select2d"]};
  function draw(element, figure) {
    if (!figure.data.length) {
      figure.layout.annotations = [{text: "No decision in this window", showarrow: false,
        xref: "paper", yref: "paper", x: 0.5, y: 0.5, font: {size: 14, color: "#777"}}];
      figure.layout.xaxis = {visible: false};
      figure.layout.yaxis = {visible: false};
      figure.layout.updatemenus = [];
      figure.layout.height = 110;
      figure.layout.margin = {l: 0, r: 0, t: 0, b: 0};
      element.style.minHeight = "110px";
    }
    window.Plotly.newPlot(element, figure.data, figure.layout, config);
  }
  document.querySelectorAll("[data-figure]").forEach(function (element) {
    draw(element, JSON.parse(document.getElementById(element.dataset.figure).textContent));
  });
  var drift = document.getElementById("figure-drift");
  if (drift) {
    var charts = JSON.parse(drift.textContent);
    document.querySelectorAll("[data-drift]").forEach(function (element) {
      draw(element, charts[Number(element.dataset.drift)].figure);
    });
  }
})();
