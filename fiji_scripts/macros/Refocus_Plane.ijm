// Plugins > Deep-Z > Refocus Plane: refocus the plane shown by dz um (dz > 0 = deeper, away from
// the objective). Macro: run("Refocus Plane", "dz=1.5 [model=DIR] [allow_extrapolation] [tta]");
what = "Refocus Plane";
deepzRequireImage(what);
source = getImageID();
title = deepzShortTitle();
Dialog.create(what);
Dialog.addMessage("Deep-Z: refocus the plane shown to another plane (dz > 0 = deeper, away from the objective)");
Dialog.addNumber("dz", deepzPrefNumber("dz", 0), 2, 7, deepzMicro());
deepzAddModelFields();
Dialog.show();
dz = Dialog.getNumber();
if (deepzInteractive()) deepzRemember("dz", dz);
options = deepzModelArgs(true);
job = deepzNewJob();
input = deepzSaveImage(source, job, "input.tif", false);
args = newArray("refocus", input, "--dz", d2s(dz, 6), "-o", job + "result.tif", "--no-progress");
label = deepzRun(job, Array.concat(args, options), "refocus");
deepzOpenResult(job, title + " " + label, "refocus");
