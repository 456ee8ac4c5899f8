"""What is read out of trained models and data: accuracy and paired comparisons,
contribution scores, TF-MoDISco motifs matched to JASPAR, validated enhancers, Tn5
insertion bias and cost."""
