// Plugins > Deep-Z > Deep-Z Doctor: checks this ImageJ, the Python environment recorded at install
// time, TensorFlow and the default model, and prints the diagnosis in the Log window.
print("Deep-Z Doctor");
print("[ok  ] ImageJ: " + getVersion() + ", Java " + getInfo("java.version") + ", plugins in " + getDirectory("plugins"));
print("[--  ] Python recorded at install: " + DEEPZ_PYTHON + " (deepz-fiji " + DEEPZ_VERSION + ")");
job = deepzNewJob();
status = deepzWait(job, newArray("fiji", "doctor", "--engine"), "doctor");
report = deepzRead(job + "stdout.txt");
if (report != "") print(report);
else print("[FAIL] deepz: " + deepzRead(job + "message.txt"));
deepzClean(job);
if (status == 0) showStatus("Deep-Z Doctor: everything needed works (see the Log window)");
else call("ij.IJ.error", "Deep-Z Doctor", "Deep-Z Doctor found problems: see the FAIL lines in the Log window");
