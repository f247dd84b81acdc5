# multiplex cross_prod group_by "knights"
# one instance per knight, with all of its qualities: get_input() is the class value
knight = get_input()
qualities = sorted(get_input("quality"))
with open(get_data_fn("qualities.txt"), "w") as f:
    f.write(knight + ": " + ", ".join(qualities) + "\n")
set_output(knight)
